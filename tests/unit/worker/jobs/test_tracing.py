"""The worker's part of a job's trace: a transition in a run puts the run's traceparent on
the record and is an event of the run's span; tracing never stops a hook."""

from __future__ import annotations

from types import SimpleNamespace

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tasks.jobs.record import JobStatus
from tasks.jobs.store import Transition
from worker.jobs.tracing import record, stamp


def test_outside_a_run_the_fields_stay_as_they_are() -> None:
    fields: dict[str, str | bytes] = {"result": b"3"}
    assert stamp(fields) is fields and stamp(None) is None


def test_a_transition_in_a_run_is_stamped_and_recorded() -> None:
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    with provider.get_tracer("test").start_as_current_span("run/sum_to_n_job") as span:
        stamped = stamp({"result": b"3"})
        record("job-1", JobStatus.SUCCEEDED, Transition(True, JobStatus.STARTED, 1), None)
        context = span.get_span_context()
    assert stamped == {"result": b"3",
                       "traceparent": f"00-{context.trace_id:032x}-{context.span_id:016x}-"
                                      f"{context.trace_flags:02x}"}
    [run] = exported.get_finished_spans()
    [(name, attributes)] = [(e.name, dict(e.attributes or {})) for e in run.events]
    assert name == "job.transition" and attributes == {
        "job.id": "job-1", "job.status": "SUCCEEDED", "job.applied": True,
        "job.attempts": 1, "job.previous_status": "STARTED"}


def test_a_transition_outside_a_run_with_no_usable_trace_is_left_alone() -> None:
    for request in (None, SimpleNamespace(traceparent="garbage"), SimpleNamespace()):
        record("job-1", JobStatus.CANCELLED, Transition(False, None, 0), request)
