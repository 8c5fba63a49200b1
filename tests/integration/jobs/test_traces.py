"""One trace across the hop: the gateway's request span, the worker's run of the job (with
its status transitions as events) and each webhook attempt, exported by three real
processes (gateway, prefork worker, dispatcher) to a local OTLP/HTTP collector; the
webhook receiver gets the attempt's `traceparent`. A caller's valid `traceparent` is
continued; a malformed or oversize one starts a new trace and never an error answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.helpers import fresh_path, wait_for_status
from tests.support.launcher import Launcher, Stack
from tests.support.otlp import CLIENT, CONSUMER, SERVER, SpanSeen, otlp_env, wait_for_spans
from tests.support.webhook_receiver import Received, Receiver, Reply

SUBMIT = """mutation($n: BigInt!, $cb: String) { submitSum(number: $n, callbackUrl: $cb) {
  id } }"""
CALLER_TRACE, CALLER_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


@dataclass
class Traced:
    stack: Stack
    collector: Receiver  # the OTLP/HTTP endpoint every process exports to
    hooks: Receiver  # the webhook receiver, on 127.0.0.3

    def submit_rest(self, path: str, headers: dict[str, Any] | None = None) -> str:
        r = httpx.post(f"{self.stack.url}/producer/api/sum", headers=headers, timeout=10,
                       json={"number": 10, "callback_url": self.hooks.url(path)})
        assert r.status_code == 200, r.text
        job_id: str = r.json()["job_id"]
        return job_id

    def submit_graphql(self, path: str, headers: dict[str, Any] | None = None) -> str:
        r = httpx.post(f"{self.stack.url}/graphql", headers=headers, timeout=10, json={
            "query": SUBMIT, "variables": {"n": 10, "cb": self.hooks.url(path)}})
        assert r.status_code == 200 and "errors" not in r.json(), r.text
        job_id: str = r.json()["data"]["submitSum"]["id"]
        return job_id

    def trace_of(self, job_id: str, attempts: int = 1) -> JobTrace:
        """The job's spans, once the request, the run and `attempts` webhook attempts
        were exported."""
        def complete(spans: list[SpanSeen]) -> bool:
            found = JobTrace.of(spans, job_id)
            return found.request is not None and found.run is not None and len(
                found.attempts) >= attempts and found.run.events[-1][1]["job.status"] in (
                "SUCCEEDED", "FAILED")

        return JobTrace.of(wait_for_spans(self.collector, complete, what=f"job {job_id}'s "
                                          "spans"), job_id)


@dataclass
class JobTrace:
    request: SpanSeen | None
    run: SpanSeen | None
    attempts: list[SpanSeen]

    @classmethod
    def of(cls, spans: list[SpanSeen], job_id: str) -> JobTrace:
        def first(check: Callable[[SpanSeen], bool]) -> SpanSeen | None:
            return next((s for s in spans if check(s)), None)

        request = first(lambda s: s.kind == SERVER and any(
            e[1].get("job.id") == job_id for e in s.events))
        run = first(lambda s: s.kind == CONSUMER and any(
            e[1].get("job.id") == job_id for e in s.events))
        attempts = sorted((s for s in spans if s.kind == CLIENT
                           and s.attributes.get("job.id") == job_id),
                          key=lambda s: s.attributes["webhook.attempt"])
        return cls(request, run, attempts)


@pytest.fixture(scope="module")
def traced(module_launch: Launcher) -> Traced:
    collector = module_launch.receiver()
    hooks = module_launch.receiver("127.0.0.3")
    stack = module_launch.stack(
        "traced-worker", dispatcher=True, WEBHOOK_ALLOWED_NETWORKS="127.0.0.3/32",
        WEBHOOK_RETRY_SCHEDULE="0,0.2", **otlp_env(collector))
    return Traced(stack, collector, hooks)


def traceparent_of(message: Received) -> tuple[str, str]:
    """(trace id, parent span id) of the traceparent a webhook receiver got."""
    version, trace_id, span_id, flags = message.headers["traceparent"].split("-")
    assert version == "00" and len(trace_id) == 32 and len(span_id) == 16
    assert int(flags, 16) & 1  # sampled
    return trace_id, span_id


def check_one_trace(found: JobTrace, messages: list[Received]) -> str:
    """The request, the run and every attempt in one trace, each a child of the one before;
    the receiver got each attempt's own span as the parent. Returns the trace id."""
    request, run = found.request, found.run
    assert request is not None and run is not None
    assert request.service == "job-gateway" and run.service == "job-gateway-worker"
    assert run.trace_id == request.trace_id and run.parent_id == request.span_id
    assert run.name == "run/sum_to_n_job"
    assert [e[1]["job.status"] for e in run.events] == ["STARTED", "SUCCEEDED"]
    assert len(found.attempts) == len(messages)
    for number, (attempt, message) in enumerate(zip(found.attempts, messages, strict=True), 1):
        assert attempt.service == "job-gateway-dispatcher" and attempt.name == "POST"
        assert (attempt.trace_id, attempt.parent_id) == (run.trace_id, run.span_id)
        assert traceparent_of(message) == (attempt.trace_id, attempt.span_id)
        assert attempt.attributes["webhook.id"] == message.webhook_id
        assert attempt.attributes["webhook.attempt"] == number
        assert attempt.attributes["webhook.event"] == "job.succeeded"
    return request.trace_id


def test_rest_submit_run_and_webhook_attempts_are_one_trace(traced: Traced) -> None:
    path = fresh_path()
    traced.hooks.script(path, Reply(500))  # a second attempt: a second client span
    job_id = traced.submit_rest(path)
    messages = traced.hooks.wait_count(path, 2)
    found = traced.trace_of(job_id, attempts=2)
    check_one_trace(found, messages)
    assert found.request is not None and found.request.name == "POST /producer/api/sum"
    assert found.request.parent_id == ""  # no traceparent came in: a new trace
    assert found.request.attributes["gateway.request_id"]


def test_graphql_submit_sum_is_one_trace(traced: Traced) -> None:
    path = fresh_path()
    job_id = traced.submit_graphql(path)
    found = traced.trace_of(job_id)
    check_one_trace(found, traced.hooks.wait_count(path, 1))
    assert found.request is not None and found.request.name == "POST /graphql"


@pytest.mark.parametrize("face", ["rest", "graphql"])
def test_an_incoming_traceparent_is_continued(traced: Traced, face: str) -> None:
    path = fresh_path()
    submit = traced.submit_rest if face == "rest" else traced.submit_graphql
    job_id = submit(path, {"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"})
    found = traced.trace_of(job_id)
    assert check_one_trace(found, traced.hooks.wait_count(path, 1)) == CALLER_TRACE
    assert found.request is not None and found.request.parent_id == CALLER_SPAN


BAD_TRACEPARENTS = {
    "garbage": "not a traceparent",
    "short ids": f"00-{CALLER_TRACE[:16]}-{CALLER_SPAN}-01",
    "upper case": f"00-{CALLER_TRACE.upper()}-{CALLER_SPAN}-01",
    "zero trace id": f"00-{'0' * 32}-{CALLER_SPAN}-01",
    "version ff": f"ff-{CALLER_TRACE}-{CALLER_SPAN}-01",
    "version 00 with more": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01-extra",
    # A later version may append fields, but not 8 KB of them.
    "oversize": f"01-{CALLER_TRACE}-{CALLER_SPAN}-01-" + "a" * 8000,
    "not ASCII": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01".encode() + "é".encode(),
}


@pytest.mark.parametrize("face", ["rest", "graphql"])
@pytest.mark.parametrize("value", BAD_TRACEPARENTS.values(), ids=BAD_TRACEPARENTS.keys())
def test_a_bad_traceparent_starts_a_new_trace(traced: Traced, face: str,
                                               value: str | bytes) -> None:
    path = fresh_path()
    submit = traced.submit_rest if face == "rest" else traced.submit_graphql
    job_id = submit(path, {"traceparent": value, "tracestate": "k=" + "v" * 5000})
    found = traced.trace_of(job_id)
    trace_id = check_one_trace(found, traced.hooks.wait_count(path, 1))
    assert found.request is not None and found.request.parent_id == ""
    assert trace_id != CALLER_TRACE


def test_a_bad_traceparent_is_no_error_when_tracing_is_off(client: httpx.Client) -> None:
    for value in BAD_TRACEPARENTS.values():
        r = client.post("/producer/api/sum", json={"number": 3},
                        headers={"traceparent": value})
        assert r.status_code == 200, r.text


def test_a_cancelled_run_stays_in_the_job_trace(traced: Traced) -> None:
    """Cancelling a running job stops its pool process (its run span goes with it): the
    worker's main process tells the revoke as a span of the job's trace, and the
    job.cancelled webhook attempt is in that trace too."""
    path = fresh_path()
    r = httpx.post(f"{traced.stack.url}/producer/api/wait_and_return", timeout=10,
                   json={"seconds": 30, "callback_url": traced.hooks.url(path)})
    assert r.status_code == 200, r.text
    job_id = r.json()["job_id"]
    with traced.stack.client() as client:
        wait_for_status(client, job_id, {"STARTED"})
        assert client.delete(f"/producer/api/jobs/{job_id}").status_code == 200
    [message] = traced.hooks.wait_count(path, 1)
    assert message.headers["webhook-id"] and b'"job.cancelled"' in message.body

    def complete(spans: list[SpanSeen]) -> bool:
        found = JobTrace.of(spans, job_id)
        return found.request is not None and bool(found.attempts) and any(
            s.name == "job CANCELLED" and s.attributes.get("job.id") == job_id for s in spans)

    spans = wait_for_spans(traced.collector, complete, what="the cancelled job's spans")
    found = JobTrace.of(spans, job_id)
    assert found.request is not None
    trace_id = found.request.trace_id
    [revoked] = [s for s in spans if s.name == "job CANCELLED"
                 and s.attributes.get("job.id") == job_id]
    assert revoked.service == "job-gateway-worker" and revoked.trace_id == trace_id
    assert revoked.parent_id == found.request.span_id  # from the message's traceparent
    [attempt] = found.attempts
    assert attempt.trace_id == trace_id and attempt.attributes["webhook.event"] == "job.cancelled"
    # A route FastAPI serves has one request span too: FastAPI's own telemetry stays off.
    assert not [s for s in spans if s.name.startswith("fastapi")]
    assert traceparent_of(message)[0] == trace_id
