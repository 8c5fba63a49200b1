"""The trace context a job carries across the hop, as a W3C `traceparent` string.

The gateway writes the request's into the job's Celery message headers (the worker's run
continues it) and into the job record; the worker replaces the record's with its run's,
and a terminal transition copies the record into each webhook delivery, so an attempt
continues the run. Only the canonical 55-character form is ever written; anything read
that is not a valid traceparent (malformed, oversize, all-zero ids) is ignored.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACEPARENT = "traceparent"  # the Celery message header and the job record field
# W3C version 00 is 55 characters; later versions may append fields. Longer: ignored.
MAX_TRACEPARENT_LENGTH = 256
_W3C = TraceContextTextMapPropagator()


def current_traceparent() -> str | None:
    """The current span's context as a traceparent, or None outside any trace."""
    span = trace.get_current_span().get_span_context()
    if not span.is_valid:
        return None
    return f"00-{span.trace_id:032x}-{span.span_id:016x}-{span.trace_flags:02x}"


def context_of(traceparent: object) -> Context | None:
    """The context a traceparent names, to continue; None for anything else."""
    if not isinstance(traceparent, str) or len(traceparent) > MAX_TRACEPARENT_LENGTH:
        return None
    found = _W3C.extract({TRACEPARENT: traceparent})
    return found if trace.get_current_span(found).get_span_context().is_valid else None


def job_traceparent(job_id: str, function: str) -> str | None:
    """The traceparent a new job carries: the current span's (the request's), which
    notes the job (an event: one GraphQL request may submit several)."""
    span = trace.get_current_span()
    if span.is_recording():
        span.add_event("job.submitted", {"job.id": job_id, "job.function": function})
    return current_traceparent()
