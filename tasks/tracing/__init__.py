"""Traces across the hop (OpenTelemetry, W3C `traceparent`), off unless `OTEL_*` asks.

`setup.py` turns the SDK on in a process from the standard variables (each composition
root calls `configure`); `context.py` is the trace context as the job carries it: on its
Celery message, on its record (which its webhook deliveries copy). The sides that make
spans keep their part beside them: `gateway/asgi/tracing.py` (the request),
`worker/jobs/tracing.py` (the run and each transition), `worker/webhooks/tracing.py`
(each webhook attempt). The instrumentation packages are imported only when tracing
is on.
"""
