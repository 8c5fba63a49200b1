"""Where a running job's progress reports go: the job store's progress script
(tasks/jobs/progress.lua), on a Redis client of their own that fails fast.

Progress is advisory: a report Redis does not take is dropped with a log line and never
stalls or fails the job (the status transitions keep their own client, which rides out an
outage, since a transition that is not written is a status wrong forever).
"""

from __future__ import annotations

import logging
import time

import redis

from tasks.jobs.progress import Reporter
from tasks.jobs.record import progress_json
from tasks.jobs.store import JobStore
from tasks.redis.clients import Outage, sync_client
from tasks.settings import Settings
from worker.jobs.per_process import PerProcess

log = logging.getLogger("worker.progress")


class ProgressWriter:
    def __init__(self, settings: Settings) -> None:
        self._interval = settings.progress_interval_ms / 1000
        self._webhook_interval_ms = round(settings.webhook_progress_interval_seconds * 1000)
        self._store = PerProcess(lambda: JobStore(sync_client(settings, Outage.FAIL_FAST)))

    def reporter(self, job_id: str) -> Reporter:
        """The throttle of a job starting now, writing here."""

        def write(done: float, total: float, message: str | None, final: bool) -> None:
            try:
                self._store.get().write_progress(
                    job_id, progress_json(done, total, message, time.time()), final,
                    self._webhook_interval_ms)
            except redis.RedisError as exc:
                log.warning("job %s: progress report not written: %r", job_id, exc)

        return Reporter(write, self._interval)
