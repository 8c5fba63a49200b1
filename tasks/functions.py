"""Moved to tasks/jobs/functions.py; this alias keeps EXTRA_FUNCTION_MODULES or imports
that name the old path working for one release."""

import warnings

from tasks.jobs.functions import SumInput, WaitInput, sum_to_n_job, wait_and_return

warnings.warn("tasks.functions moved to tasks.jobs.functions; the alias goes in the next "
              "release", DeprecationWarning, stacklevel=2)

__all__ = ["SumInput", "WaitInput", "sum_to_n_job", "wait_and_return"]
