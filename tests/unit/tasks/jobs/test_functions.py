"""The shipped job functions (tasks/jobs/functions.py)."""

from __future__ import annotations

from tasks.jobs.functions import sum_to_n_job


def test_sum_is_exact_loop() -> None:
    assert sum_to_n_job(0) == 0
    assert sum_to_n_job(10) == 55
    assert sum_to_n_job(100_000) == 100_000 * 100_001 // 2
