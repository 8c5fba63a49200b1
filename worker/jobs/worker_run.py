"""This worker process's run (tasks/jobs/lost_workers.py): its hostname, told by Celery's
celeryd_init signal in the main process before the pool forks (so every pool process knows
it), and a token new at each start, so a worker started again under the same hostname is
another run."""

from __future__ import annotations

from typing import Any

from celery import signals

from tasks.jobs.lost_workers import new_run_token, run_name


class WorkerRun:
    def __init__(self, tracked: bool) -> None:
        """`tracked`: running jobs name the run (for lost-worker recovery: Redis broker,
        WORKER_LOST_AFTER_SECONDS on)."""
        self.tracked = tracked
        self.token = new_run_token()
        self.hostname = ""

    def connect(self) -> None:
        signals.celeryd_init.connect(self._named, weak=False)

    def _named(self, sender: Any = None, **_: Any) -> None:
        self.hostname = str(sender or "")

    @property
    def name(self) -> str:
        """The run's name, or "" when untracked (or before Celery named the worker)."""
        return run_name(self.hostname, self.token) if self.tracked and self.hostname else ""
