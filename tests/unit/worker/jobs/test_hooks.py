"""The job hooks' budget of runs (worker/jobs/hooks.py): a job's policy, as Celery's own
retry_on_worker_lost counts it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from worker.jobs.hooks import allowed_runs


@pytest.mark.parametrize(("max_retries", "runs"), [(0, 1), (2, 3), (0.0, 1), (4.0, 5)])
def test_runs_are_the_policys_retries_plus_the_first(max_retries: float, runs: int) -> None:
    assert allowed_runs(SimpleNamespace(max_retries=max_retries), default=3) == runs


@pytest.mark.parametrize("task", [SimpleNamespace(max_retries=None), SimpleNamespace(),
                                  SimpleNamespace(max_retries=True)])
def test_a_task_without_a_budget_gets_job_max_attempts(task: object) -> None:
    assert allowed_runs(task, default=3) == 3
