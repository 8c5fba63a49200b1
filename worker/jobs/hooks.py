"""Celery signal hooks that drive the job store.

Celery swallows (and logs) an exception raised inside a signal handler, so each hook does
one small, idempotent store update and nothing slow: the Lua transition refuses to
overwrite a terminal status, so a duplicate or late signal is harmless.

Where each hook runs: task_prerun, task_success, task_retry and most task_failure calls
run in the pool child that ran the task; task_failure for a lost worker or a hard time
limit, task_revoked, and given_back (a stopping worker's running job, worker/jobs/shutdown.py)
run in the worker's main process.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import orjson
from celery import signals
from celery.app.task import Context
from celery.exceptions import Retry

from tasks.jobs.catalog import SKIP_FLAG
from tasks.jobs.record import JobStatus, error_json
from tasks.jobs.store import JobStore, Transition
from tasks.settings import Settings
from worker.jobs import observe, tracing

log = logging.getLogger("worker.hooks")


class JobHooks:
    """The receivers of Celery's task signals, for one worker's settings. `connect()`
    connects them (worker/jobs/app.py)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: JobStore | None = None
        self._store_pid = 0
        self.traced = tracing.enabled()  # worker/jobs/tracing.py

    def connect(self) -> None:
        signals.task_prerun.connect(self.on_prerun, weak=False)
        signals.task_success.connect(self.on_success, weak=False)
        signals.task_failure.connect(self.on_failure, weak=False)
        signals.task_retry.connect(self.on_retry, weak=False)
        signals.task_revoked.connect(self.on_revoked, weak=False)

    def store(self) -> JobStore:
        """One store (one Redis connection pool) per process: pools must not cross a
        fork."""
        if self._store is None or self._store_pid != os.getpid():
            self._store = JobStore.from_settings(self.settings)
            self._store_pid = os.getpid()
        return self._store

    def _transition(self, job_id: str, task: Any, status: JobStatus,
                    fields: dict[str, str | bytes] | None = None, count_attempt: bool = False,
                    request: Any = None) -> Transition:
        """Apply a transition, counted in the same Redis call when it ends the job, then
        log it (worker/jobs/observe.py) and, when traced, note it in the job's trace."""
        job_store = self.store()
        function = observe.function_name(task)
        if function is None:  # e.g. a lost worker's failure, told without its task
            record = job_store.get(job_id)
            function = record.function if record else "unknown"
        request = request if request is not None else getattr(task, "request", None)
        if self.traced:
            fields = tracing.stamp(fields)
        outcome = job_store.transition(
            job_id, status, fields, count_attempt=count_attempt,
            counters=observe.counters(job_id, function, status, request))
        observe.transition(job_id, function, status, outcome, request)
        if self.traced:
            tracing.record(job_id, status, outcome, request)
        return outcome

    def on_prerun(self, task_id: str, task: Any, **_: Any) -> None:
        setattr(task.request, observe.STARTED_AT, time.monotonic())
        outcome = self._transition(task_id, task, JobStatus.STARTED, count_attempt=True)
        if not outcome.applied:
            # Cancelled while queued, already finished, or the record is gone: do not run.
            setattr(task.request, SKIP_FLAG, True)
            log.info("job %s not run: status %s", task_id, outcome.previous)
            return
        max_attempts = self.settings.job_max_attempts
        if outcome.attempts > max_attempts:
            # Redelivered after its worker died too often (e.g. the job kills its worker).
            self._transition(task_id, task, JobStatus.FAILED, {
                "error": error_json("WorkerLostError",
                                    f"the worker running this job was lost {max_attempts} times"),
            })
            setattr(task.request, SKIP_FLAG, True)

    def on_success(self, sender: Any, result: Any, **_: Any) -> None:
        self._transition(sender.request.id, sender, JobStatus.SUCCEEDED,
                         {"result": orjson.dumps(result)})

    def on_failure(self, task_id: str, exception: BaseException, sender: Any = None,
                   **_: Any) -> None:
        self._transition(task_id, sender, JobStatus.FAILED, _error_fields(exception))

    def on_retry(self, request: Any, reason: Any, sender: Any = None, **_: Any) -> None:
        exc = reason.exc if isinstance(reason, Retry) and reason.exc is not None else reason
        fields = _error_fields(exc) if isinstance(exc, BaseException) else {}
        self._transition(request.id, sender, JobStatus.RETRYING, fields, request=request)

    def on_revoked(self, request: Any, expired: bool = False, sender: Any = None,
                   **_: Any) -> None:
        self._transition(request.id, sender,
                         JobStatus.EXPIRED if expired else JobStatus.CANCELLED, request=request)

    def given_back(self, request: Any) -> None:
        """A running job handed back to the queue by a stopping worker
        (worker/jobs/shutdown.py): QUEUED again until a worker takes its restored message.
        Runs in the main process."""
        # The request's Context, as task.request is in the other hooks (the id is there).
        self._transition(request.id, request.task, JobStatus.QUEUED,
                         request=Context(request.request_dict))


def _error_fields(exc: BaseException) -> dict[str, str | bytes]:
    return {"error": error_json(type(exc).__name__, str(exc))}
