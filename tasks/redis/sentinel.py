"""Clients of a primary found through Redis Sentinel (REDIS_SENTINELS), for the client factory
(tasks/redis/clients.py), which passes the same options (timeouts, outage retry policy) as
for a plain Redis.

redis-py's Sentinel-managed connections ask the Sentinels for the primary's address each
time they connect, and drop a connection whose server turned out to be a replica
(READONLY): after a failover, the connection that fails is opened again to the new
primary, without a restart. Sentinel's own connections fail fast (redis-py moves on to the
next Sentinel); the data password and database come from REDIS_URL.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.asyncio.sentinel import SentinelConnectionPool as AsyncSentinelPool
from redis.asyncio.sentinel import SentinelManagedConnection as AsyncManagedConnection
from redis.sentinel import Sentinel, SentinelManagedConnection

from tasks.redis.config import data_credentials
from tasks.settings import Settings

# redis-py asks the Sentinels only in `connect()`; a command it retries after a connection
# error reconnects through `connect_check_health()`, to the address the connection had: the
# primary that just died, for every retry (redis/redis-py#3874, open). These connections
# ask the Sentinels there too; one try each, the command's retry policy does the retrying.


class FollowingConnection(SentinelManagedConnection):
    def connect_check_health(self, check_health: bool = True,
                             retry_socket_connect: bool = True) -> None:
        if self._sock or not retry_socket_connect:  # connected, or `connect_to`'s own call
            super().connect_check_health(check_health, retry_socket_connect)
        else:
            self._connect_retry()  # type: ignore[no-untyped-call]


class AsyncFollowingConnection(AsyncManagedConnection):
    async def connect_check_health(self, check_health: bool = True,
                                   retry_socket_connect: bool = True) -> None:
        if self.is_connected or not retry_socket_connect:
            await super().connect_check_health(check_health, retry_socket_connect)
        else:
            await self._connect_retry()  # type: ignore[no-untyped-call]


class BlockingSentinelConnectionPool(AsyncSentinelPool, aioredis.BlockingConnectionPool):
    """The gateway's pool behind Sentinel: past its size a call waits for a free connection
    (up to its `timeout`), as the gateway's plain pool does."""


def _sentinel_options(settings: Settings) -> dict[str, Any]:
    password = settings.redis_sentinel_password.get_secret_value()
    seconds = settings.redis_timeout_seconds
    return {"password": password or None, "socket_timeout": seconds,
            "socket_connect_timeout": seconds}


def sync_master(settings: Settings, options: dict[str, Any]) -> redis.Redis:
    manager = Sentinel(settings.sentinels, sentinel_kwargs=_sentinel_options(settings),
                       **data_credentials(settings.redis_url))
    client: redis.Redis = manager.master_for(settings.redis_sentinel_master,
                                             connection_class=FollowingConnection, **options)
    return client


def async_master(settings: Settings, options: dict[str, Any],
                 pool_class: type[AsyncSentinelPool] = AsyncSentinelPool) -> aioredis.Redis:
    manager = AsyncSentinel(settings.sentinels, sentinel_kwargs=_sentinel_options(settings),
                            **data_credentials(settings.redis_url))
    client: aioredis.Redis = manager.master_for(
        settings.redis_sentinel_master, connection_pool_class=pool_class,
        connection_class=AsyncFollowingConnection, **options)
    return client


def transport_options(settings: Settings) -> dict[str, Any]:
    """kombu's (and Celery's result backend's) Sentinel options: the primary's name and how
    to reach the Sentinels (the data password is in the sentinel:// URL)."""
    return {"master_name": settings.redis_sentinel_master,
            "sentinel_kwargs": _sentinel_options(settings)}
