"""The gateway's own Prometheus metrics, counted in process (no I/O on the hot path):
jobs submitted by function, HTTP requests by method and status, request duration, and the
requests the express lane answered itself (gateway/rest/express.py).

GET /metrics (gateway/rest/routes/metrics.py) shows them with those counted in Redis by other
processes. The gateway runs as one process per container; with `uvicorn --workers N` each
process would report its own local counters.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)

disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series (noise)
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)

JOBS_SUBMITTED = Counter("gateway_jobs_submitted", "Jobs accepted, by function.",
                         ["function"], registry=REGISTRY)
HTTP_REQUESTS = Counter("gateway_http_requests", "HTTP requests, by method and status.",
                        ["method", "status"], registry=REGISTRY)
HTTP_SECONDS = Histogram("gateway_http_request_duration_seconds",
                         "Time to answer an HTTP request.", registry=REGISTRY,
                         buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                  0.5, 1, 2.5, 5, 10))
# What share of the hot routes takes the fast path; the rest (invalid input, another
# content type, a cross-origin call) is answered by the FastAPI app, at more CPU a request.
EXPRESS_LANE_REQUESTS = Counter(
    "gateway_express_lane_requests",
    "Requests the express lane answered past FastAPI's routing, by route (submit, poll, "
    "graphql).", ["route"], registry=REGISTRY)
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "WS"})


def observe_request(method: str, status: int, seconds: float) -> None:
    # Methods are a fixed set, so a client cannot grow the label space.
    HTTP_REQUESTS.labels(method if method in _METHODS else "OTHER", str(status)).inc()
    HTTP_SECONDS.observe(seconds)
