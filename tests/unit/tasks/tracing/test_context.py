"""The traceparent a job carries: only the canonical form is written, and nothing but a
valid one is ever continued."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tasks.tracing.context import context_of, current_traceparent, job_traceparent

TRACE, SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
VALID = f"00-{TRACE}-{SPAN}-01"


def test_outside_a_trace_there_is_no_traceparent() -> None:
    assert current_traceparent() is None
    assert job_traceparent("job-1", "sum_to_n_job") is None


def test_inside_a_span_the_job_carries_its_traceparent_and_the_span_notes_the_job() -> None:
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    with provider.get_tracer("test").start_as_current_span("request") as span:
        carried = job_traceparent("job-1", "sum_to_n_job")
        context = span.get_span_context()
    assert carried == f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    [finished] = exported.get_finished_spans()
    assert [(e.name, dict(e.attributes or {})) for e in finished.events] == [
        ("job.submitted", {"job.id": "job-1", "job.function": "sum_to_n_job"})]


def test_a_valid_traceparent_is_continued() -> None:
    found = context_of(VALID)
    assert found is not None
    parent = trace.get_current_span(found).get_span_context()
    assert (f"{parent.trace_id:032x}", f"{parent.span_id:016x}") == (TRACE, SPAN)
    # A later version may append fields (W3C): continued, within the length bound.
    assert context_of(f"01-{TRACE}-{SPAN}-01-more") is not None


@pytest.mark.parametrize("value", [
    None, 42, b"", "", "garbage", VALID.upper(), f"00-{'0' * 32}-{SPAN}-01",
    f"00-{TRACE}-{'0' * 16}-01", f"ff-{TRACE}-{SPAN}-01", f"00-{TRACE}-{SPAN}-01-more",
    f"01-{TRACE}-{SPAN}-01-" + "a" * 300, f"00-{TRACE[1:]}-{SPAN}-01",
])
def test_anything_else_is_ignored(value: object) -> None:
    assert context_of(value) is None
