"""Each webhook attempt as a client span in its job's trace, when tracing is on
(tasks/tracing/setup.py).

OpenTelemetry's aiohttp client instrumentation, a TraceConfig on the dispatcher's session,
makes the span and sends the receiver its `traceparent`. Here the attempt is put in the
job's trace: its parent is the traceparent of the delivery's job snapshot (the record as
its terminal transition left it: the run's, or the submitting request's), and the span
gets the message id, event and attempt number. The URL is recorded without its query
string, which may hold a receiver's token. A delivery without a trace (an operational
event) starts a new one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import aiohttp
import orjson
import yarl
from opentelemetry.context import Context, attach, create_key, detach, get_value, set_value
from opentelemetry.trace import Span

from tasks.tracing import setup
from tasks.tracing.context import TRACEPARENT, context_of

SERVICE = "job-gateway-dispatcher"
_ATTEMPT = create_key("webhook.attempt")


def install() -> bool:
    """Trace this dispatcher if the environment asks for it."""
    return setup.configure(SERVICE)


def trace_configs() -> list[aiohttp.TraceConfig]:
    """The session's tracing: none when off."""
    if not setup.enabled():
        return []
    from opentelemetry.instrumentation.aiohttp_client import create_trace_config  # only when on

    return [create_trace_config(url_filter=without_query, request_hook=tag_attempt)]


@contextmanager
def attempt(delivery: Mapping[str, str], number: int) -> Iterator[None]:
    """The POST made inside continues the delivery's job trace."""
    parent = context_of(snapshot_traceparent(delivery)) or Context()
    token = attach(set_value(_ATTEMPT, {
        "webhook.id": delivery.get("id", ""), "webhook.event": delivery.get("event", ""),
        "webhook.attempt": number, "job.id": delivery.get("job_id", "")}, parent))
    try:
        yield
    finally:
        detach(token)


def snapshot_traceparent(delivery: Mapping[str, str]) -> str | None:
    """The traceparent in a job delivery's snapshot (the record's HGETALL, flat); None
    when there is none or the snapshot cannot be read (the attempt goes out anyway)."""
    try:
        flat = orjson.loads(delivery.get("job") or "[]")
    except orjson.JSONDecodeError:
        return None
    if not isinstance(flat, list):
        return None
    for i in range(0, len(flat) - 1, 2):
        if flat[i] == TRACEPARENT:
            value = flat[i + 1]
            return value if isinstance(value, str) else None
    return None


def without_query(url: yarl.URL) -> str:
    return str(url.with_query(None).with_fragment(None))


def tag_attempt(span: Span, params: aiohttp.TraceRequestStartParams) -> None:
    attributes = get_value(_ATTEMPT)
    if isinstance(attributes, dict) and span.is_recording():
        span.set_attributes(attributes)
