"""Whether a process traces, and its tracer provider, from the standard `OTEL_*` variables.

Tracing is on when `OTEL_TRACES_EXPORTER` names an exporter (`otlp` or `console`) or an
OTLP endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`),
and `OTEL_SDK_DISABLED` is not `true`. Off, nothing is installed: no middleware, no signal
receiver, no span, no header. The SDK itself reads every other variable (service name,
resource attributes, sampler, batch sizes, the exporter's headers, timeout, compression).
OTLP goes over HTTP with protobuf (a collector's port 4318); gRPC is not installed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping

from opentelemetry import context, trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)

log = logging.getLogger("tracing")
EXPORTERS = ("otlp", "console")
PROTOCOL = "http/protobuf"
_provider: TracerProvider | None = None


def wanted(env: Mapping[str, str]) -> str | None:
    """The exporter `env` asks for (`otlp`, `console`), or None: tracing stays off."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter if exporter != "none" else None
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT")
    return "otlp" if endpoint and endpoint.strip() else None


def refusal(exporter: str, env: Mapping[str, str]) -> str | None:
    """Why the exporter asked for cannot be had here, or None."""
    if exporter not in EXPORTERS:
        return f"OTEL_TRACES_EXPORTER={exporter!r}: only {', '.join(EXPORTERS)} are installed"
    protocol = (env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or PROTOCOL).strip().lower()
    if exporter == "otlp" and protocol != PROTOCOL:
        return f"OTLP protocol {protocol!r}: only {PROTOCOL} is installed (port 4318)"
    return None


def enabled() -> bool:
    return _provider is not None


def configure(service: str, env: Mapping[str, str] | None = None) -> bool:
    """Turn tracing on in this process if the environment asks for it; True when on.
    `service` is the default `service.name` (OTEL_SERVICE_NAME overrides it)."""
    global _provider
    if _provider is not None:
        return True
    env = os.environ if env is None else env
    exporter = wanted(env)
    if exporter is None:
        return False
    problem = refusal(exporter, env)
    if problem:
        log.warning("tracing stays off: %s", problem)
        return False
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service}))
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(PerProcess(lambda: BatchSpanProcessor(new_exporter(exporter))))
    trace.set_tracer_provider(provider)
    _provider = provider
    log.info("tracing on: %s exporter, service %s", exporter,
             resource.attributes.get(SERVICE_NAME))
    return True


def new_exporter(exporter: str) -> SpanExporter:
    if exporter == "console":
        return ConsoleSpanExporter()
    # Imported only when used: the OTLP exporter brings protobuf and requests.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    return OTLPSpanExporter()


def flush() -> None:
    """Export what this process holds now (a pool process about to exit)."""
    if _provider is not None:
        _provider.force_flush()


class PerProcess(SpanProcessor):
    """A batch processor and exporter of each process's own: a forked pool process must
    not send through HTTP connections its parent opened (and may still use), so it makes
    its own on its first span."""

    def __init__(self, make: Callable[[], SpanProcessor]) -> None:
        self._make = make
        self._pid = os.getpid()
        self._inner = make()

    def _current(self) -> SpanProcessor:
        if self._pid != os.getpid():
            self._inner, self._pid = self._make(), os.getpid()
        return self._inner

    def on_start(self, span: Span, parent_context: context.Context | None = None) -> None:
        self._current().on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        self._current().on_end(span)

    def shutdown(self) -> None:
        self._current().shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._current().force_flush(timeout_millis)
