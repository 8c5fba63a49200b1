"""The benchmark's twin of sum_to_n_job without progress calls: the loop as it was before
jobs reported progress, so `make bench` can time what reporting costs
(bench/progress_bench.py loads it into its worker with EXTRA_FUNCTION_MODULES)."""

from __future__ import annotations

from tasks.jobs.catalog import job_function
from tasks.jobs.functions import SumInput


@job_function(input_model=SumInput, limits=lambda settings: {"number": settings.sum_max_number},
              description="sum_to_n_job's loop without progress calls (a benchmark baseline).")
def sum_to_n_plain(number: int) -> int:
    total = 0
    for i in range(1, number + 1):
        total += i
    return total
