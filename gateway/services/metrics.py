"""The gateway's own Prometheus metrics, counted in process (no I/O on the hot path):
jobs submitted by function, HTTP requests by method and status, request duration, and the
requests the express lane answered itself (gateway/rest/express.py).

Each is the in-memory side of a metric kept in Redis (tasks/metrics.py: name, help and
labels come from there): gateway/services/metrics_flush.py adds what this process counted
to Redis about once a second, so GET /metrics (gateway/rest/routes/metrics.py) shows the
totals of every gateway process, whichever one answers. Only `process_*` (PROCESS) is
this process's own.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)

from tasks import metrics as shared

disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series (noise)
REGISTRY = CollectorRegistry()  # this process's counts, not shown as they are
PROCESS = CollectorRegistry()  # CPU, memory, open files of the process that answers
ProcessCollector(registry=PROCESS)


def _counter(twin: shared.RedisCounter) -> Counter:
    return Counter(twin.name, twin.documentation, twin.labels, registry=REGISTRY)


JOBS_SUBMITTED = _counter(shared.GATEWAY_JOBS_SUBMITTED)
HTTP_REQUESTS = _counter(shared.GATEWAY_HTTP_REQUESTS)
HTTP_SECONDS = Histogram(shared.GATEWAY_HTTP_SECONDS.name,
                         shared.GATEWAY_HTTP_SECONDS.documentation, registry=REGISTRY,
                         buckets=shared.GATEWAY_HTTP_SECONDS.buckets)
EXPRESS_LANE_REQUESTS = _counter(shared.GATEWAY_EXPRESS_LANE_REQUESTS)
PERSISTED_QUERIES = _counter(shared.GATEWAY_PERSISTED_QUERIES)
# Each local metric with the Redis metric its counts are added to.
MIRRORED: tuple[tuple[Counter | Histogram, shared.RedisCounter | shared.RedisHistogram], ...] = (
    (JOBS_SUBMITTED, shared.GATEWAY_JOBS_SUBMITTED),
    (HTTP_REQUESTS, shared.GATEWAY_HTTP_REQUESTS),
    (HTTP_SECONDS, shared.GATEWAY_HTTP_SECONDS),
    (EXPRESS_LANE_REQUESTS, shared.GATEWAY_EXPRESS_LANE_REQUESTS),
    (PERSISTED_QUERIES, shared.GATEWAY_PERSISTED_QUERIES),
)
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "WS"})
# Each labelled series, looked up once: `labels()` costs 1.1 µs per call (it checks and
# joins the values under a lock), the series' own `inc()` 0.4 µs.
_REQUEST_SERIES: dict[tuple[str, int], Counter] = {}
_SUBMITTED_SERIES: dict[str, Counter] = {}


def observe_request(method: str, status: int, seconds: float) -> None:
    # Methods are a fixed set, so a client cannot grow the label space (nor this cache).
    label = method if method in _METHODS else "OTHER"
    series = _REQUEST_SERIES.get((label, status))
    if series is None:
        series = _REQUEST_SERIES[(label, status)] = HTTP_REQUESTS.labels(label, str(status))
    series.inc()
    HTTP_SECONDS.observe(seconds)


def count_submitted(function: str) -> None:
    """One job of `function` (a catalog name: a bounded label space) submitted."""
    series = _SUBMITTED_SERIES.get(function)
    if series is None:
        series = _SUBMITTED_SERIES[function] = JOBS_SUBMITTED.labels(function)
    series.inc()
