"""The authenticator (gateway/services/auth.py) against a real Redis."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from gateway.services.auth import Authenticator
from tests.support.servers import RedisServer


def test_concurrent_requests_share_one_check_for_stored_keys(redis_server: RedisServer) -> None:
    """When the cached "are keys stored in Redis?" answer expires, the requests of that
    moment wait for one EXISTS, not one each (a burst that used to stall the gateway)."""

    async def burst() -> list[bool]:
        client = aioredis.Redis.from_url(redis_server.url)
        authenticator = Authenticator("", client)
        try:
            return await asyncio.gather(*(authenticator.required() for _ in range(200)))
        finally:
            await client.aclose()

    def exists_calls() -> int:
        stats = redis_server.client().info("commandstats").get("cmdstat_exists", {})
        return int(stats.get("calls", 0))

    before = exists_calls()
    assert asyncio.run(burst()) == [False] * 200
    assert exists_calls() - before == 1
