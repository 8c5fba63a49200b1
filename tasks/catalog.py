"""Moved to tasks/jobs/catalog.py; this alias keeps function modules written against the
old path (`from tasks.catalog import job_function`) working for one release."""

import warnings

from tasks.jobs.catalog import TransientJobError, job_function

warnings.warn("tasks.catalog moved to tasks.jobs.catalog; the alias goes in the next release",
              DeprecationWarning, stacklevel=2)

__all__ = ["TransientJobError", "job_function"]
