"""When a process traces: only when the standard OTEL_* variables ask for it."""

from __future__ import annotations

import os

import pytest
from opentelemetry.sdk.trace import SpanProcessor

from tasks.tracing import setup
from tasks.tracing.setup import PerProcess, refusal, wanted

ENDPOINT = "http://127.0.0.1:4318"


@pytest.mark.parametrize(("env", "exporter"), [
    ({}, None),
    ({"OTEL_SERVICE_NAME": "gw", "OTEL_TRACES_SAMPLER": "always_on"}, None),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, "otlp"),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{ENDPOINT}/v1/traces"}, "otlp"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, None),
    ({"OTEL_TRACES_EXPORTER": "otlp"}, "otlp"),
    ({"OTEL_TRACES_EXPORTER": "Console"}, "console"),
    ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, None),
    ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, None),
    ({"OTEL_SDK_DISABLED": "TRUE", "OTEL_TRACES_EXPORTER": "otlp"}, None),
    ({"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, "otlp"),
])
def test_tracing_is_off_unless_the_environment_asks(env: dict[str, str],
                                                    exporter: str | None) -> None:
    assert wanted(env) == exporter


def test_what_is_not_installed_is_refused_with_a_reason() -> None:
    assert refusal("otlp", {}) is None
    assert refusal("otlp", {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}) is None
    assert refusal("console", {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}) is None
    assert "only http/protobuf" in str(refusal("otlp", {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}))
    assert "only http/protobuf" in str(refusal("otlp", {
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}))
    assert "zipkin" in str(refusal("zipkin", {}))


def test_configure_leaves_tracing_off_without_otel_variables() -> None:
    assert setup.configure("test", {}) is False
    assert setup.configure("test", {"OTEL_TRACES_EXPORTER": "jaeger"}) is False
    assert not setup.enabled()


class Counted(SpanProcessor):
    made = 0

    def __init__(self) -> None:
        Counted.made += 1


def test_a_forked_process_gets_an_exporter_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    processor = PerProcess(Counted)
    first = processor._current()
    assert processor._current() is first and Counted.made == 1
    monkeypatch.setattr(os, "getpid", lambda: -1)  # as in a pool process after the fork
    child = processor._current()
    assert child is not first and processor._current() is child and Counted.made == 2
