"""The request span's layer: a span name without ids, an oversize traceparent dropped
before it is parsed, and the request served whatever the header holds."""

from __future__ import annotations

import httpx
from starlette.types import Receive, Scope, Send

from gateway.asgi.tracing import TracedRequests, without_oversize_traceparent

VALID = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
ROUTES = ["/producer/api/sum", "/producer/api/jobs/{job_id}", "/producer/api/jobs/{job_id}",
          "/graphql"]


async def answer(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_spans_are_named_by_route_template() -> None:
    traced = TracedRequests(answer, ROUTES)
    assert len(traced.routes) == 3
    assert traced.span_details({"method": "GET", "path": "/producer/api/jobs/123"}) == (
        "GET /producer/api/jobs/{job_id}", {"http.route": "/producer/api/jobs/{job_id}"})
    assert traced.span_details({"method": "POST", "path": "/graphql"})[0] == "POST /graphql"
    assert traced.span_details({"method": "GET", "path": "/nowhere"}) == ("GET", {})


def test_an_oversize_traceparent_is_dropped_and_a_valid_one_kept() -> None:
    scope = {"headers": [(b"traceparent", VALID), (b"x-request-id", b"r1")]}
    assert without_oversize_traceparent(scope) is scope
    long = {"headers": [(b"traceparent", b"01" + VALID[2:] + b"-" + b"a" * 300),
                        (b"x-request-id", b"r1")]}
    assert without_oversize_traceparent(long)["headers"] == [(b"x-request-id", b"r1")]


async def test_the_request_is_served_whatever_its_trace_headers() -> None:
    transport = httpx.ASGITransport(app=TracedRequests(answer, ROUTES))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        for value in (VALID, b"garbage", b"01" + VALID[2:] + b"-" + b"a" * 9000, b"\xff\xfe"):
            r = await client.post("/producer/api/sum", headers={"traceparent": value,
                                                                "tracestate": "k=" + "v" * 600})
            assert (r.status_code, r.text) == (200, "ok")
