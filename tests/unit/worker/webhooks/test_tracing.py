"""A webhook attempt continues the trace in its delivery's job snapshot; a snapshot without
one, or one that cannot be read, still lets the attempt go out."""

from __future__ import annotations

import orjson
import yarl
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from worker.webhooks.tracing import attempt, snapshot_traceparent, tag_attempt, without_query

TRACE, SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
VALID = f"00-{TRACE}-{SPAN}-01"


def delivery(job: object) -> dict[str, str]:
    snapshot = job if isinstance(job, str) else orjson.dumps(job).decode()
    return {"id": "msg_1", "event": "job.succeeded", "job_id": "job-1", "job": snapshot}


def test_the_traceparent_is_read_from_the_job_snapshot() -> None:
    assert snapshot_traceparent(delivery(["id", "job-1", "traceparent", VALID])) == VALID
    assert snapshot_traceparent(delivery(["id", "job-1"])) is None
    assert snapshot_traceparent({"id": "msg_1", "data": "{}"}) is None  # an operational event
    for unreadable in ("not json", '{"a": 1}', "[1]", '["traceparent", 5]'):
        assert snapshot_traceparent(delivery(unreadable)) is None


def test_an_attempt_continues_the_job_trace_and_its_span_names_the_message() -> None:
    with attempt(delivery(["traceparent", VALID]), 3):
        parent = trace.get_current_span().get_span_context()
        with TracerProvider().get_tracer("test").start_as_current_span("POST") as span:
            tag_attempt(span, None)
            attributes = dict(span.attributes or {})
    assert (f"{parent.trace_id:032x}", f"{parent.span_id:016x}") == (TRACE, SPAN)
    assert attributes == {"webhook.id": "msg_1", "webhook.event": "job.succeeded",
                          "webhook.attempt": 3, "job.id": "job-1"}
    assert not trace.get_current_span().get_span_context().is_valid  # detached after
    with attempt(delivery("garbage"), 1):
        assert not trace.get_current_span().get_span_context().is_valid  # a new trace


def test_the_recorded_url_has_no_query_string() -> None:
    assert without_query(yarl.URL("https://h.example:8443/hook?token=s3cret#x")) == (
        "https://h.example:8443/hook")
