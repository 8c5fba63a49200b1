"""The worker reuses one redis-py client per kombu channel and connection pool (every
worker test runs through it too: publishes, acks and restores)."""

from __future__ import annotations

from kombu import Connection

from tests.support.servers import RedisServer
from worker.jobs import kombu_client_cache


def test_one_client_per_channel_and_pool(redis_server: RedisServer) -> None:
    kombu_client_cache.install()
    with Connection(redis_server.url) as conn:
        channel = conn.default_channel
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second
            assert first.ping()
        given = object()
        with channel.conn_or_acquire(given) as passed:
            assert passed is given  # an explicit client is used as it is
        channel._pool = None  # kombu builds a new pool (e.g. after a reconnect) ...
        with channel.conn_or_acquire() as third:
            assert third is not first  # ... and the cached client follows it
            assert third.connection_pool is channel.pool
            assert third.ping()
        queue = conn.SimpleQueue("kombu-cache-probe")
        queue.put({"n": 1})
        message = queue.get(timeout=5)
        assert message.payload == {"n": 1}
        message.ack()
        queue.close()
