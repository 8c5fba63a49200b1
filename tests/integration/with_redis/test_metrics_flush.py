"""The gateway processes' counts added up in a real Redis (gateway/services/metrics_flush.py):
two processes' in-memory metrics (here two registries, as two processes would have) give
one total, each count is added once however often they flush, and counts made while
Redis is away are added once it is back."""

from __future__ import annotations

import redis
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Counter, Histogram

from gateway.services.metrics_flush import MetricsFlusher
from tasks import metrics
from tests.support.helpers import prometheus_text
from tests.support.launcher import Launcher
from tests.support.servers import RedisServer

SUBMITTED, SECONDS = metrics.GATEWAY_JOBS_SUBMITTED, metrics.GATEWAY_HTTP_SECONDS


class Process:
    """One gateway process's in-memory side of two of the mirrored metrics."""

    def __init__(self) -> None:
        registry = CollectorRegistry()
        self.submitted = Counter(SUBMITTED.name, "", SUBMITTED.labels, registry=registry)
        self.seconds = Histogram(SECONDS.name, "", registry=registry, buckets=SECONDS.buckets)

    def flusher(self, client: aioredis.Redis) -> MetricsFlusher:
        return MetricsFlusher(client, [(self.submitted, SUBMITTED), (self.seconds, SECONDS)])


def shown(client: redis.Redis) -> str:
    """/metrics' text of the two metrics, rendered from Redis as the route renders it."""
    return prometheus_text([SUBMITTED.family(client.hgetall(SUBMITTED.key)),
                            SECONDS.family(client.hgetall(SECONDS.key))])


async def test_two_processes_counts_add_up_once_each(own_redis: RedisServer) -> None:
    sync = own_redis.client()
    sync.delete(SUBMITTED.key, SECONDS.key)
    client = aioredis.Redis.from_url(own_redis.url)
    one, two = Process(), Process()
    first, second = one.flusher(client), two.flusher(client)
    one.submitted.labels("sum_to_n_job").inc(3)
    two.submitted.labels("sum_to_n_job").inc(4)
    two.submitted.labels("wait_and_return").inc()
    for value in (0.002, 0.3, 20):
        one.seconds.observe(value)
    two.seconds.observe(0.3)
    for flusher in (first, second, first, second):  # a second flush adds nothing
        await flusher.flush()
    text = shown(sync)
    assert 'gateway_jobs_submitted_total{function="sum_to_n_job"} 7.0' in text
    assert 'gateway_jobs_submitted_total{function="wait_and_return"} 1.0' in text
    assert 'gateway_http_request_duration_seconds_bucket{le="0.0025"} 1.0' in text
    assert 'gateway_http_request_duration_seconds_bucket{le="0.5"} 3.0' in text
    assert 'gateway_http_request_duration_seconds_bucket{le="10.0"} 3.0' in text
    assert 'gateway_http_request_duration_seconds_count 4.0' in text
    assert 'gateway_http_request_duration_seconds_sum 20.602' in text

    one.submitted.labels("sum_to_n_job").inc()
    await first.aclose()  # the last flush when a process stops
    assert 'gateway_jobs_submitted_total{function="sum_to_n_job"} 8.0' in shown(sync)
    await client.aclose()


async def test_counts_made_while_redis_is_away_are_added_when_it_is_back(
        launch: Launcher) -> None:
    server = launch.redis()
    client = aioredis.Redis.from_url(server.url, socket_timeout=2)
    process = Process()
    flusher = process.flusher(client)
    process.submitted.labels("sum_to_n_job").inc(2)
    await flusher.flush()
    server.stop()
    process.submitted.labels("sum_to_n_job").inc(5)
    try:
        await flusher.flush()
        raise AssertionError("a flush without Redis succeeded")
    except redis.RedisError:
        pass
    again = launch.redis(port=server.port, data_dir=server.data_dir)  # its AOF kept the 2
    await flusher.flush()
    assert 'gateway_jobs_submitted_total{function="sum_to_n_job"} 7.0' in shown(again.client())
    await client.aclose()


async def test_a_flusher_adds_only_what_was_counted_after_it_started(
        own_redis: RedisServer) -> None:
    """What another app of the same process counted (the tests make many) is not its to
    add."""
    sync = own_redis.client()
    sync.delete(SUBMITTED.key)
    client = aioredis.Redis.from_url(own_redis.url)
    process = Process()
    process.submitted.labels("sum_to_n_job").inc(9)
    flusher = process.flusher(client)
    await flusher.flush()
    assert not sync.exists(SUBMITTED.key)
    process.submitted.labels("sum_to_n_job").inc()
    await flusher.flush()
    assert 'gateway_jobs_submitted_total{function="sum_to_n_job"} 1.0' in shown(sync)
    await client.aclose()
