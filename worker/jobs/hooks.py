"""Celery signal hooks that drive the job store.

Celery swallows (and logs) an exception raised inside a signal handler, so each hook does
one small, idempotent store update and nothing slow: the Lua transition refuses to
overwrite a terminal status, so a duplicate or late signal is harmless.

Where each hook runs: task_prerun, task_postrun, task_success, task_retry and most
task_failure calls run in the pool child that ran the task, in the task's own thread (so
task_prerun binds the job's progress reporter, tasks/jobs/progress.py, where the function
runs, and task_postrun unbinds it); task_failure for a lost worker or a hard time
limit, task_revoked, and given_back (a stopping worker's running job, worker/jobs/shutdown.py)
run in the worker's main process.

A job's STARTED transition names the worker running it and, for lost-worker recovery, its
run and the message's delivery tag (tasks/jobs/lost_workers.py). The run's reports on its
own job (success, failure, retry, giving back) are fenced with the run: once the job was
handed back from a worker taken for lost, or taken by another run, they are refused, so a
worker that was only slow cannot overwrite what the job's new run does.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from celery import signals
from celery.app.task import Context
from celery.exceptions import Retry

from tasks.jobs import progress
from tasks.jobs.catalog import SKIP_FLAG
from tasks.jobs.record import JobStatus, error_json
from tasks.jobs.store import JobStore, Transition
from tasks.settings import Settings
from worker.jobs import observe, tracing
from worker.jobs.per_process import PerProcess
from worker.jobs.progress_writer import ProgressWriter
from worker.jobs.worker_run import WorkerRun

log = logging.getLogger("worker.hooks")


class JobHooks:
    """The receivers of Celery's task signals, for one worker's settings. `connect()`
    connects them (worker/jobs/app.py)."""

    def __init__(self, settings: Settings, run: WorkerRun | None = None) -> None:
        self.settings = settings
        self.run = run or WorkerRun(tracked=False)
        self._store = PerProcess(lambda: JobStore.from_settings(settings))
        self._progress = ProgressWriter(settings)
        self.traced = tracing.enabled()  # worker/jobs/tracing.py

    def connect(self) -> None:
        signals.task_prerun.connect(self.on_prerun, weak=False)
        signals.task_postrun.connect(self.on_postrun, weak=False)
        signals.task_success.connect(self.on_success, weak=False)
        signals.task_failure.connect(self.on_failure, weak=False)
        signals.task_retry.connect(self.on_retry, weak=False)
        signals.task_revoked.connect(self.on_revoked, weak=False)

    def store(self) -> JobStore:
        """One store (one Redis connection pool) per process."""
        return self._store.get()

    def _transition(self, job_id: str, task: Any, status: JobStatus,
                    fields: dict[str, str | bytes] | None = None, count_attempt: bool = False,
                    request: Any = None, own: bool = True) -> Transition:
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
            counters=observe.counters(job_id, function, status, request),
            fence=self.run.name if own else "")
        observe.transition(job_id, function, status, outcome, request)
        if self.traced:
            tracing.record(job_id, status, outcome, request)
        return outcome

    def on_prerun(self, task_id: str, task: Any, **_: Any) -> None:
        setattr(task.request, observe.STARTED_AT, time.monotonic())
        outcome = self._transition(task_id, task, JobStatus.STARTED, self._running_fields(task),
                                   count_attempt=True, own=False)
        if not outcome.applied:
            # Cancelled while queued, already finished, or the record is gone: do not run.
            setattr(task.request, SKIP_FLAG, True)
            log.info("job %s not run: status %s", task_id, outcome.previous)
            return
        max_attempts = allowed_runs(task, self.settings.job_max_attempts)
        if outcome.attempts > max_attempts:
            # Back after its worker was lost (a whole worker, or a redelivery at the
            # visibility timeout) with its policy's runs already spent.
            self._transition(task_id, task, JobStatus.FAILED, {
                "error": error_json("WorkerLostError", "the worker running this job was lost "
                                    f"and its {max_attempts} attempt(s) are spent"),
            })
            setattr(task.request, SKIP_FLAG, True)
            return
        # The job runs in this context now: its progress() calls report (until postrun).
        progress.bind(self._progress.reporter(task_id))

    def on_postrun(self, **_: Any) -> None:
        progress.unbind()

    def _running_fields(self, task: Any) -> dict[str, str | bytes]:
        """Who runs the job: the worker, and for lost-worker recovery its run and the
        message's delivery tag in kombu's unacked hash."""
        fields: dict[str, str | bytes] = {}
        if self.run.hostname:
            fields["worker"] = self.run.hostname
        properties = getattr(task.request, "properties", None) or {}
        tag = properties.get("delivery_tag") if isinstance(properties, dict) else None
        if self.run.name and isinstance(tag, str):
            fields.update(worker_run=self.run.name, delivery_tag=tag)
        return fields

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
                         JobStatus.EXPIRED if expired else JobStatus.CANCELLED, request=request,
                         own=False)

    def given_back(self, request: Any) -> None:
        """A running job handed back to the queue by a stopping worker
        (worker/jobs/shutdown.py): QUEUED again until a worker takes its restored message.
        Runs in the main process."""
        # The request's Context, as task.request is in the other hooks (the id is there).
        self._transition(request.id, request.task, JobStatus.QUEUED,
                         request=Context(request.request_dict))


def allowed_runs(task: Any, default: int) -> int:
    """Runs a job may have: its policy's retries (the Celery task's max_retries,
    tasks/jobs/catalog.py register_tasks) plus the first, as Celery's own
    retry_on_worker_lost counts them; `default` (JOB_MAX_ATTEMPTS) for a task without."""
    retries = getattr(task, "max_retries", None)  # FUNCTION_POLICIES may make it a float
    if isinstance(retries, int | float) and not isinstance(retries, bool):
        return int(retries) + 1
    return default


def _error_fields(exc: BaseException) -> dict[str, str | bytes]:
    return {"error": error_json(type(exc).__name__, str(exc))}
