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
from tasks.settings import get_settings
from worker.jobs import observe

log = logging.getLogger("worker.hooks")

_store: JobStore | None = None
_store_pid = 0


def store() -> JobStore:
    """One store (one Redis connection pool) per process: pools must not cross a fork."""
    global _store, _store_pid
    if _store is None or _store_pid != os.getpid():
        _store = JobStore.from_settings(get_settings())
        _store_pid = os.getpid()
    return _store


def _transition(job_id: str, task: Any, status: JobStatus,
                fields: dict[str, str | bytes] | None = None, count_attempt: bool = False,
                request: Any = None) -> Transition:
    """Apply a transition, counted in the same Redis call when it ends the job, then log
    it (worker/jobs/observe.py)."""
    function = observe.function_name(task)
    request = request if request is not None else getattr(task, "request", None)
    counters = observe.counters(job_id, function, status, request)
    job_store = store()
    outcome = job_store.transition(job_id, status, fields, count_attempt=count_attempt,
                                   counters=counters)
    observe.transition(job_store, job_id, function, status, outcome, request,
                       counted=bool(counters))
    return outcome


def _error_fields(exc: BaseException) -> dict[str, str | bytes]:
    return {"error": error_json(type(exc).__name__, str(exc))}


@signals.task_prerun.connect
def on_prerun(task_id: str, task: Any, **_: Any) -> None:
    setattr(task.request, observe.STARTED_AT, time.monotonic())
    outcome = _transition(task_id, task, JobStatus.STARTED, count_attempt=True)
    if not outcome.applied:
        # Cancelled while queued, already finished, or the record is gone: do not run.
        setattr(task.request, SKIP_FLAG, True)
        log.info("job %s not run: status %s", task_id, outcome.previous)
        return
    max_attempts = get_settings().job_max_attempts
    if outcome.attempts > max_attempts:
        # Redelivered after its worker died too often (e.g. the job kills its worker).
        _transition(task_id, task, JobStatus.FAILED, {
            "error": error_json("WorkerLostError",
                                f"the worker running this job was lost {max_attempts} times"),
        })
        setattr(task.request, SKIP_FLAG, True)


@signals.task_success.connect
def on_success(sender: Any, result: Any, **_: Any) -> None:
    _transition(sender.request.id, sender, JobStatus.SUCCEEDED,
                {"result": orjson.dumps(result)})


@signals.task_failure.connect
def on_failure(task_id: str, exception: BaseException, sender: Any = None, **_: Any) -> None:
    _transition(task_id, sender, JobStatus.FAILED, _error_fields(exception))


@signals.task_retry.connect
def on_retry(request: Any, reason: Any, sender: Any = None, **_: Any) -> None:
    exc = reason.exc if isinstance(reason, Retry) and reason.exc is not None else reason
    fields = _error_fields(exc) if isinstance(exc, BaseException) else {}
    _transition(request.id, sender, JobStatus.RETRYING, fields, request=request)


@signals.task_revoked.connect
def on_revoked(request: Any, expired: bool = False, sender: Any = None, **_: Any) -> None:
    _transition(request.id, sender, JobStatus.EXPIRED if expired else JobStatus.CANCELLED,
                request=request)


def given_back(request: Any) -> None:
    """A running job handed back to the queue by a stopping worker (worker/jobs/shutdown.py):
    QUEUED again until a worker takes its restored message. Runs in the main process."""
    # The request's Context, as task.request is in the other hooks (the request id is there).
    _transition(request.id, request.task, JobStatus.QUEUED,
                request=Context(request.request_dict))
