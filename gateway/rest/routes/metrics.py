"""GET /metrics: Prometheus text of the metrics counted in Redis, and of this process.

Read from Redis at scrape time, in one pipelined round trip: the gateway processes' own
counts (submits, requests, the express lane: added up over every gateway process, this
one's flushed first, see gateway/services/metrics_flush.py), jobs finished by function and
status, job run time, webhook attempts and delivery latency (counted by workers and the
dispatcher, see tasks/metrics.py), the breakers' transitions and the destinations whose
breaker is open or half-open now, the queue depth, jobs taken by workers but not yet
acknowledged, and live workers. It needs the dashboard credentials (FLOWER_BASIC_AUTH, HTTP
basic) on every port: NGINX checks them on /metrics and passes them on, and the route checks
them itself, so the gateway's own port shows no metrics without them either.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from gateway.asgi.errors import error_body
from gateway.rest.deps import Service
from gateway.services.metrics import PROCESS
from tasks import dashboard_auth
from tasks import metrics as shared
from tasks.heartbeat import ALIVE_WINDOW_SECONDS
from tasks.redis.keys import DEST_HALF_OPEN_KEY, DEST_OPEN_KEY, KOMBU_UNACKED_KEY, WORKERS_KEY

router = APIRouter()


class _Snapshot(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from self.metrics


def _gauge(name: str, doc: str, value: float, **labels: str) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, doc, labels=list(labels))
    gauge.add_metric(list(labels.values()), value)
    return gauge


async def shared_metrics(service: Service) -> list[Metric]:
    """One pipelined round trip to Redis for everything counted outside this process."""
    settings = service.settings
    queue_in_store = settings.broker_is_job_store
    queues = list(dict.fromkeys(settings.queues.values())) if queue_in_store else []
    try:
        async with service.store.client.pipeline(transaction=False) as pipe:
            for metric in shared.SHARED_METRICS:
                pipe.hgetall(metric.key)
            pipe.zcount(WORKERS_KEY, time.time() - ALIVE_WINDOW_SECONDS, "+inf")
            pipe.zcard(DEST_OPEN_KEY)
            pipe.zcard(DEST_HALF_OPEN_KEY)
            for queue in queues:
                pipe.llen(queue)
            if queue_in_store:
                pipe.hlen(KOMBU_UNACKED_KEY)
            replies = await pipe.execute()
    except RedisError:
        return [_gauge("gateway_redis_up", "Whether Redis answered this scrape.", 0)]
    count = len(shared.SHARED_METRICS)
    breakers = GaugeMetricFamily(
        "gateway_webhook_breaker_destinations",
        "Webhook destinations whose circuit breaker is open or half-open.", labels=["state"])
    breakers.add_metric(["open"], replies[count + 1])
    breakers.add_metric(["half_open"], replies[count + 2])
    out = [*shared.families(replies[:count]),
           _gauge("gateway_redis_up", "Whether Redis answered this scrape.", 1),
           _gauge("gateway_workers_alive", "Workers whose heartbeat is recent.",
                  replies[count]), breakers]
    if queue_in_store:
        depth = GaugeMetricFamily("gateway_queue_depth", "Jobs waiting in a broker queue.",
                                  labels=["queue"])
        for at, queue in enumerate(queues, start=count + 3):
            depth.add_metric([queue], replies[at])
        out += [depth,
                _gauge("gateway_queue_unacked", "Jobs taken by workers, not yet acknowledged.",
                       replies[count + 3 + len(queues)])]
    return out


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, service: Service) -> Response:
    credentials = dashboard_auth.pairs(service.settings.flower_basic_auth.get_secret_value())
    if not dashboard_auth.authorized(request.headers.get("authorization"), credentials):
        message = ("the metrics need the dashboard credentials (HTTP basic)" if credentials
                   else "no dashboard credentials are configured: set FLOWER_BASIC_AUTH")
        return Response(error_body("UNAUTHENTICATED", message), status_code=401,
                        media_type="application/json",
                        headers={"WWW-Authenticate": dashboard_auth.CHALLENGE})
    with contextlib.suppress(RedisError):  # kept for the next; the read reports Redis down
        await request.app.state.metrics.flush()
    scrape = CollectorRegistry()
    scrape.register(_Snapshot(await shared_metrics(service)))
    body = generate_latest(PROCESS) + generate_latest(scrape)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
