"""The client factory (tasks/redis/clients.py): each use's outage profile."""

from __future__ import annotations

import pytest
import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.retry import Retry
from redis.sentinel import SentinelConnectionPool

from tasks.redis.clients import (
    GATEWAY_MAX_CONNECTIONS,
    Outage,
    async_client,
    client_options,
    gateway_client,
    sync_client,
)
from tasks.redis.packing import HiredisPacking
from tasks.redis.sentinel import (
    AsyncFollowingConnection,
    BlockingSentinelConnectionPool,
    FollowingConnection,
)
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


def test_sentinel_clients_keep_their_outage_profile() -> None:
    """Behind Sentinel every client is a Sentinel-managed one for the named primary, with the
    data password and database of REDIS_URL and the same timeouts and retries."""
    settings = Settings(_env_file=None, redis_sentinels="127.0.0.1:1,127.0.0.1:2",
                        redis_sentinel_master="mymaster", redis_sentinel_password="s3",
                        redis_url="redis://:data@mymaster/4", redis_timeout_seconds=1.5)
    ride_out = sync_client(settings, Outage.RIDE_OUT).connection_pool
    assert isinstance(ride_out, SentinelConnectionPool)
    assert ride_out.service_name == "mymaster"
    assert ride_out.connection_class is FollowingConnection
    kwargs = ride_out.connection_kwargs
    assert (kwargs["password"], kwargs["db"], kwargs["socket_timeout"]) == ("data", 4, 1.5)
    assert kwargs["retry"].get_retries() == 25
    sentinel = ride_out.sentinel_manager.sentinels[0].connection_pool.connection_kwargs
    assert (sentinel["password"], sentinel["socket_timeout"]) == ("s3", 1.5)
    dispatcher = async_client(settings, Outage.RETRY).connection_pool
    assert issubclass(dispatcher.connection_class, AsyncFollowingConnection)
    pool = gateway_client(settings).connection_pool
    assert isinstance(pool, BlockingSentinelConnectionPool)
    assert pool.max_connections == GATEWAY_MAX_CONNECTIONS and pool.timeout == 1.5
    assert issubclass(pool.connection_class, HiredisPacking)
    assert issubclass(pool.connection_class, AsyncFollowingConnection)


def test_sentinel_client_refused_when_no_sentinel_answers() -> None:
    settings = Settings(_env_file=None, redis_sentinels=f"127.0.0.1:{free_port()}",
                        redis_sentinel_master="mymaster")
    with pytest.raises(redis.ConnectionError):  # MasterNotFoundError: no Sentinel answered
        sync_client(settings, Outage.FAIL_FAST).ping()
