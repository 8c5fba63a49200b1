"""The request span: OpenTelemetry's own ASGI middleware around everything the gateway
serves over HTTP (the express lane and GraphQL too), installed only when tracing is on
(tasks/tracing/setup.py).

It continues the caller's `traceparent` when that is valid, else starts a new trace: a
malformed one is ignored by the W3C propagator, and one longer than any version of the
format needs is dropped here before it is parsed. Never an error answer for either. The
span is named by its route template (`POST /producer/api/sum`, `GET
/producer/api/jobs/{job_id}`), carries the request id, and has no child spans per ASGI
message. WebSockets (GraphQL subscriptions, which live for minutes) are not traced.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.trace import Span
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from tasks.logs import request_id_var
from tasks.tracing.context import MAX_TRACEPARENT_LENGTH, TRACEPARENT

_HEADER = TRACEPARENT.encode()


class TracedRequests:
    """`routes`: the app's path templates, to name spans by."""

    def __init__(self, app: ASGIApp, routes: Iterable[str]) -> None:
        self.app = app
        self.routes: list[tuple[re.Pattern[str], str]] = [
            (compile_path(path)[0], path) for path in dict.fromkeys(routes)]
        self.traced = OpenTelemetryMiddleware(
            app, default_span_details=self.span_details, server_request_hook=tag_request,
            exclude_spans=["receive", "send"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.traced(without_oversize_traceparent(scope), receive, send)

    def span_details(self, scope: Scope) -> tuple[str, dict[str, Any]]:
        """`METHOD /route/{template}`: a span name without ids in it."""
        method = scope.get("method", "HTTP")
        for pattern, path in self.routes:
            if pattern.match(scope["path"]):
                return f"{method} {path}", {"http.route": path}
        return method, {}


def without_oversize_traceparent(scope: Scope) -> Scope:
    headers = scope["headers"]
    if any(name == _HEADER and len(value) > MAX_TRACEPARENT_LENGTH for name, value in headers):
        return {**scope, "headers": [(n, v) for n, v in headers if n != _HEADER]}
    return scope


def tag_request(span: Span, scope: Scope) -> None:
    """The request id (gateway/asgi/request_log.py, the layer outside this one) on the
    span: from a trace to the request's log lines and back."""
    request_id = request_id_var.get()
    if request_id is not None and span.is_recording():
        span.set_attribute("gateway.request_id", request_id)
