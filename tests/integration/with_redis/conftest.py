"""Fixtures of the webhook store's tests (test_webhook_store.py, test_webhook_destinations.py):
the module's private Redis, emptied for each test, and a store on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis
import redis.asyncio as aioredis

from tasks.webhooks.store import WebhookStore
from tests.support.servers import RedisServer
from tests.support.webhook_store import TEST_BOX


@pytest.fixture()
def sync_client(own_redis: RedisServer) -> Iterator[redis.Redis]:
    client = own_redis.client()
    client.flushall()
    yield client
    client.close()


@pytest.fixture()
async def store(own_redis: RedisServer, sync_client: redis.Redis) -> AsyncIterator[WebhookStore]:
    client = aioredis.Redis.from_url(own_redis.url)
    yield WebhookStore(client, TEST_BOX)
    await client.aclose()
