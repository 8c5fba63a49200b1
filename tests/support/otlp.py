"""A local OTLP/HTTP trace collector for the tests: a real HTTP receiver
(tests/support/webhook_receiver.py, which answers 200) that the gateway, the worker and
the dispatcher export to with the standard variables (`otlp_env`), and the spans it got,
decoded with opentelemetry-proto as a collector would."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.support.webhook_receiver import Received, Receiver

TRACES_PATH = "/v1/traces"
SERVER, CLIENT, CONSUMER = Span.SPAN_KIND_SERVER, Span.SPAN_KIND_CLIENT, Span.SPAN_KIND_CONSUMER


@dataclass(frozen=True)
class SpanSeen:
    service: str
    name: str
    kind: int
    trace_id: str  # hex, as in a traceparent
    span_id: str
    parent_id: str  # "" for a root span
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]


def otlp_env(collector: Receiver) -> dict[str, str]:
    """What turns tracing on in a process and sends its spans to `collector` quickly."""
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{collector.host}:{collector.port}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_BSP_SCHEDULE_DELAY": "100"}


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs if isinstance(pair, KeyValue)}


def decode(requests: list[Received]) -> list[SpanSeen]:
    spans = []
    for request in requests:
        export = ExportTraceServiceRequest.FromString(request.body)
        for resource in export.resource_spans:
            service = str(_attributes(resource.resource.attributes).get("service.name"))
            for scope in resource.scope_spans:
                spans += [SpanSeen(
                    service, s.name, s.kind, s.trace_id.hex(), s.span_id.hex(),
                    s.parent_span_id.hex(), _attributes(s.attributes),
                    [(e.name, _attributes(e.attributes)) for e in s.events],
                ) for s in scope.spans]
    return spans


def wait_for_spans(collector: Receiver, check: Callable[[list[SpanSeen]], bool],
                   timeout: float = 30, what: str = "spans") -> list[SpanSeen]:
    """The spans collected once `check` holds for them."""
    got = collector.wait_for(lambda requests: check(decode(requests)), timeout,
                             TRACES_PATH, what)
    return decode(got)
