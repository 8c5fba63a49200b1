"""The worker's part of a job's trace, when tracing is on (tasks/tracing/setup.py).

Celery's own OpenTelemetry instrumentation makes one span per run (`run/<function>`, a
consumer span) that continues the `traceparent` header of the job's message; a retry's
message carries the run's. Each status transition is an event of that span; one made
outside a run (revoked, handed back by a stopping worker) is a short span of its own in
the job's trace. A transition in a run also puts the run's traceparent on the record, so
the webhook deliveries it creates continue the run (worker/webhooks/tracing.py).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import signals
from opentelemetry import trace

from tasks.jobs.record import JobStatus
from tasks.jobs.store import Transition
from tasks.tracing import setup
from tasks.tracing.context import TRACEPARENT, context_of, current_traceparent

log = logging.getLogger("worker.tracing")
SERVICE = "job-gateway-worker"


def install() -> bool:
    """Trace this worker if the environment asks for it. Before the job hooks connect:
    their prerun receiver then runs inside the run's span."""
    if not setup.configure(SERVICE):
        return False
    from opentelemetry.instrumentation.celery import CeleryInstrumentor  # only when on

    CeleryInstrumentor().instrument()  # type: ignore[no-untyped-call]
    signals.worker_process_shutdown.connect(flush, weak=False)
    return True


def enabled() -> bool:
    return setup.enabled()


def flush(**_: Any) -> None:
    """A pool process ends with os._exit: export its last spans first."""
    setup.flush()


def stamp(fields: dict[str, str | bytes] | None) -> dict[str, str | bytes] | None:
    """`fields` plus the running job's traceparent, for the record (set only if the
    transition applies)."""
    traceparent = current_traceparent()
    return fields if traceparent is None else {**(fields or {}), TRACEPARENT: traceparent}


def record(job_id: str, status: JobStatus, outcome: Transition, request: Any) -> None:
    """The transition in the job's trace; never raises (a hook must go on)."""
    try:
        attributes = {"job.id": job_id, "job.status": status.value,
                      "job.applied": outcome.applied, "job.attempts": outcome.attempts,
                      "job.previous_status": outcome.previous.value if outcome.previous
                      else ""}
        span = trace.get_current_span()
        if span.get_span_context().is_valid:  # in a run (an unsampled one records nothing)
            span.add_event("job.transition", attributes)
            return
        parent = context_of(getattr(request, TRACEPARENT, None))
        if parent is not None:
            trace.get_tracer(__name__).start_span(
                f"job {status.value}", context=parent, attributes=attributes).end()
    except Exception:
        log.exception("tracing the transition of job %s failed", job_id)
