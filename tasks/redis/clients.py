"""Every Redis client the project opens, built here, with how it meets an outage chosen per use.

With REDIS_SENTINELS set, each is a client of the primary the Sentinels name, with the same
options (tasks/redis/sentinel.py): it follows a failover by itself.

Timeouts are always bounded (a dead Redis is an error within seconds, never a hang); what
differs is how long a call keeps trying:

- `Outage.FAIL_FAST`: one try. Health checks (a container healthcheck must get its "no"
  within its own timeout: within 2 s here), the keys command line, the worker's heartbeat
  (a missed stamp is harmless; a worker shutting down after Redis must not wait for it).
- `Outage.RETRY`: redis-py's default, 3 tries with backoff. The gateway and the dispatcher:
  their callers answer 503 or try again later.
- `Outage.RIDE_OUT`: 25 tries over about 40 s. The worker's job store: a transition that is
  not written is a job whose status is wrong forever.
"""

from __future__ import annotations

import enum
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry

from tasks.redis import sentinel
from tasks.redis.packing import pack_with_hiredis
from tasks.settings import Settings

HEALTH_CHECK_TIMEOUT_SECONDS = 1.0  # per connect and per read: the answer comes within 2 s
GATEWAY_MAX_CONNECTIONS = 256
DISPATCHER_MAX_CONNECTIONS = 64


class Outage(enum.Enum):
    FAIL_FAST = "fail fast"
    RETRY = "retry"
    RIDE_OUT = "ride out"


def client_options(settings: Settings, outage: Outage, *, timeout: float | None = None,
                   retry_class: type[Retry | AsyncRetry] = Retry) -> dict[str, Any]:
    """Keyword arguments for a client (`retry_class`: the asyncio client takes its own)."""
    seconds = timeout or settings.redis_timeout_seconds
    options: dict[str, Any] = {"socket_timeout": seconds, "socket_connect_timeout": seconds,
                               "health_check_interval": 30}
    if outage is Outage.FAIL_FAST:
        options["retry"] = retry_class(NoBackoff(), 0)
    elif outage is Outage.RIDE_OUT:
        options["retry"] = retry_class(ExponentialBackoff(cap=2.0, base=0.1), retries=25)
        options["retry_on_error"] = [redis.ConnectionError, redis.TimeoutError]
    return options


def sync_client(settings: Settings, outage: Outage, *,
                timeout: float | None = None) -> redis.Redis:
    options = client_options(settings, outage, timeout=timeout)
    if settings.sentinels:
        return sentinel.sync_master(settings, options)
    return redis.Redis.from_url(settings.effective_redis_url, **options)


def async_client(settings: Settings, outage: Outage, *,
                 max_connections: int = DISPATCHER_MAX_CONNECTIONS) -> aioredis.Redis:
    options = {"max_connections": max_connections,
               **client_options(settings, outage, retry_class=AsyncRetry)}
    if settings.sentinels:
        return sentinel.async_master(settings, options)
    return aioredis.Redis.from_url(settings.effective_redis_url, **options)


def gateway_client(settings: Settings) -> aioredis.Redis:
    """The gateway's one client. A blocking pool: past its size a call waits for a free
    connection (up to the Redis timeout) instead of failing at once under a burst; commands
    packed by hiredis (tasks/redis/packing.py). Connecting is lazy: the gateway starts, and
    answers 503, while Redis is down."""
    options = {"max_connections": GATEWAY_MAX_CONNECTIONS,
               "timeout": settings.redis_timeout_seconds,
               **client_options(settings, Outage.RETRY)}
    if settings.sentinels:
        client = sentinel.async_master(settings, options,
                                       sentinel.BlockingSentinelConnectionPool)
        pack_with_hiredis(client.connection_pool)
        return client
    pool = pack_with_hiredis(aioredis.BlockingConnectionPool.from_url(
        settings.effective_redis_url, **options))
    return aioredis.Redis(connection_pool=pool)
