"""What the worker tells about jobs: one JSON log line per applied status transition (job
id, function, status, attempts, the submitting request's id), in place of Celery's own
per-task lines, and the shared metrics (jobs finished by function and status, run time),
counted in Redis for the gateway's /metrics.

The hooks pass `counters()` to each store transition (a job's end is counted in the
same Redis call) and call `transition()` after it to log it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import signals

from tasks import metrics
from tasks.jobs.record import JobStatus
from tasks.jobs.store import Transition
from tasks.logs import configure_logging, request_id_var

log = logging.getLogger("worker.jobs")
STARTED_AT = "gw_started_monotonic"  # stamped on the Celery request by the prerun hook
# Celery's own line per task received, succeeded or retried says again what the
# job.transition lines say. Above DEBUG they keep only their warnings and errors (a
# failure's traceback): with them, a trivial job cost the worker's main process and its
# pool process about 0.03 ms more each (CPU per job, 3 paired 3,000-job drains, about 4%).
CELERY_TASK_LOGGERS = ("celery.app.trace", "celery.worker.strategy")


def request_id(request: Any) -> str | None:
    value = getattr(request, "gw_request_id", None)
    return value if isinstance(value, str) else None


def function_name(task: Any) -> str | None:
    name = getattr(task, "name", None)
    return name if isinstance(name, str) else None


def counters(job_id: str, function: str, status: JobStatus,
             request: Any = None) -> list[metrics.Command]:
    """The metric updates of a transition that ends a job, made by the transition's own
    Redis call, so they count only if it applies. Empty for other transitions."""
    if not status.is_terminal:
        return []
    updates = metrics.JOBS_FINISHED.inc(function, status.value)
    started = getattr(request, STARTED_AT, None)
    if isinstance(started, float) and getattr(request, "id", None) == job_id:
        updates += metrics.JOB_RUN_SECONDS.observe(time.monotonic() - started, function)
    return updates


def transition(job_id: str, function: str, status: JobStatus, outcome: Transition,
               request: Any = None) -> None:
    """Log an applied transition (a refused one at debug level); never raises."""
    try:
        if not outcome.applied:
            log.debug("job %s stays %s (no %s)", job_id, outcome.previous, status.value)
            return
        log.info("job %s %s", job_id, status.value, extra={
            "event": "job.transition", "job_id": job_id, "function": function,
            "status": status.value, "previous": outcome.previous and outcome.previous.value,
            "attempts": outcome.attempts, "request_id": request_id(request),
        })
    except Exception:  # a hook must go on (e.g. to skip a cancelled job) whatever happens
        log.exception("observing job %s failed", job_id)


@signals.setup_logging.connect
def json_logs(loglevel: Any = None, **_: Any) -> None:
    """Celery leaves logging to us when this signal has a receiver: JSON lines, like the
    gateway's."""
    configure_logging(loglevel or logging.INFO)
    if logging.getLogger().level > logging.DEBUG:
        for name in CELERY_TASK_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


@signals.worker_process_shutdown.connect
def write_buffered_logs(**_: Any) -> None:
    """A pool process ends with os._exit, which skips logging's own flush at exit: write
    the lines it still holds (tasks/logs.py batches them)."""
    for handler in logging.getLogger().handlers:
        handler.flush()


@signals.task_prerun.connect
def enter_request_context(task: Any, **_: Any) -> None:
    request_id_var.set(request_id(task.request))


@signals.task_postrun.connect
def leave_request_context(**_: Any) -> None:
    request_id_var.set(None)
