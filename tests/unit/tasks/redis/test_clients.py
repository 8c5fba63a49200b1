"""The client factory (tasks/redis/clients.py): each use's outage profile."""

from __future__ import annotations

import pytest
import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.retry import Retry

from tasks.redis.clients import Outage, async_client, client_options, sync_client
from tasks.settings import Settings
from tests.support.servers import free_port


def _retries(options: dict[str, object]) -> int:
    retry = options["retry"]
    assert isinstance(retry, Retry | AsyncRetry)
    return retry.get_retries()


def test_outage_profiles() -> None:
    settings = Settings(redis_url="redis://127.0.0.1:1/0")
    assert _retries(client_options(settings, Outage.FAIL_FAST)) == 0
    assert _retries(client_options(settings, Outage.RIDE_OUT)) == 25
    assert "retry" not in client_options(settings, Outage.RETRY)  # redis-py's default
    assert client_options(settings, Outage.FAIL_FAST, timeout=1.0)["socket_timeout"] == 1.0
    assert isinstance(async_client(settings, Outage.FAIL_FAST), aioredis.Redis)


def test_fail_fast_client_refused_at_once() -> None:
    port = free_port()  # nothing listens on it
    client = sync_client(Settings(redis_url=f"redis://127.0.0.1:{port}/0"), Outage.FAIL_FAST)
    with pytest.raises(redis.ConnectionError):
        client.ping()
