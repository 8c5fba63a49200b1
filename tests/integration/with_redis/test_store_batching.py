"""Concurrent creates and gets of the job store share one Redis round trip, and lose nothing
doing it."""

from __future__ import annotations

import asyncio
import time
import uuid

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.services.publish import celery_message
from tasks.jobs.record import JobStatus, new_record_fields
from tasks.jobs.store import Admission, AsyncJobStore
from tasks.redis.keys import job_key, tenant_index_key
from tests.support.servers import RedisServer

QUEUE = "batching-test-queue"


def _fields(job_id: str, callback: str | None = None) -> dict[str, str | bytes]:
    return new_record_fields(job_id, "sum_to_n_job", b'{"number":1}', time.time(), callback)


def _evalsha_calls(client: object) -> int:
    stats = client.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


async def test_concurrent_creates_write_every_record_and_message(
    redis_server: RedisServer,
) -> None:
    sync = redis_server.client()
    sync.delete(QUEUE)
    client = aioredis.Redis.from_url(redis_server.url)
    store = AsyncJobStore(client)
    ids = [str(uuid.uuid4()) for _ in range(300)]
    before = _evalsha_calls(sync)
    await asyncio.gather(*(
        store.create(_fields(i, "https://example.com/hook" if n % 2 else None), 600,
                     Admission(), (QUEUE, celery_message("sum_to_n_job", i, {"number": 1}, QUEUE)))
        for n, i in enumerate(ids)))
    calls = _evalsha_calls(sync) - before
    assert 1 <= calls < 30, calls  # batched (the first call may also load the script)
    assert sync.llen(QUEUE) == len(ids)
    for n, job_id in enumerate(ids):
        record = await store.get(job_id)
        assert record is not None and record.status is JobStatus.QUEUED
        assert record.input == {"number": 1}
        assert record.callback_url == ("https://example.com/hook" if n % 2 else None)
        assert 0 < sync.ttl(job_key(job_id)) <= 600
        assert sync.zscore(tenant_index_key("public"), job_id) is not None
    await client.aclose()


async def test_concurrent_gets_each_get_their_own_record(redis_server: RedisServer) -> None:
    client = aioredis.Redis.from_url(redis_server.url)
    store = AsyncJobStore(client)
    ids = [str(uuid.uuid4()) for _ in range(50)]
    await asyncio.gather(*(store.create(_fields(i), 600, Admission()) for i in ids))
    unknown = str(uuid.uuid4())
    records = await asyncio.gather(*(store.get(i) for i in [*ids, unknown]))
    assert [r.id if r else None for r in records] == [*ids, None]
    await client.aclose()


async def test_a_batch_refused_for_memory_writes_nothing_and_fails_every_caller(
        fresh_redis: RedisServer) -> None:
    server = fresh_redis
    sync = server.client()
    used = int(sync.info("memory")["used_memory"])
    sync.config_set("maxmemory-policy", "noeviction")
    sync.config_set("maxmemory", str(used))  # already full
    client = aioredis.Redis.from_url(server.url)
    store = AsyncJobStore(client)
    ids = [str(uuid.uuid4()) for _ in range(20)]
    results = await asyncio.gather(
        *(store.create(_fields(i), 600, Admission(), (QUEUE, b"{}")) for i in ids),
        return_exceptions=True)
    assert all(isinstance(r, RedisError) for r in results), results
    assert "maxmemory" in str(results[0])  # refused before any write
    sync.config_set("maxmemory", "0")
    assert sync.llen(QUEUE) == 0 and sync.zcard(tenant_index_key("public")) == 0
    assert not any(sync.exists(job_key(i)) for i in ids)
    await client.aclose()


async def test_concurrent_tokens_share_a_call_and_each_bucket_counts_every_one(
        redis_server: RedisServer) -> None:
    """Five calls of one tenant on a burst of 3 and two of another in one loop turn: one
    script call, the first three and the other tenant's served, the rest told to wait."""
    sync = redis_server.client()
    client = aioredis.Redis.from_url(redis_server.url)
    store = AsyncJobStore(client)
    busy, calm = f"busy-{uuid.uuid4().hex[:8]}", f"calm-{uuid.uuid4().hex[:8]}"
    await store.take_token(calm, 0.5, 2)  # the script loaded: the next count is exact
    before = _evalsha_calls(sync)
    waits = await asyncio.gather(*(store.take_token(busy, 0.5, 3) for _ in range(5)),
                                 store.take_token(calm, 0.5, 2))
    assert _evalsha_calls(sync) - before == 1
    assert waits == [0, 0, 0, 2, 2, 0]  # 1 token at 0.5/s: 2 s to wait
    assert await store.take_token(calm, 0.5, 2) == 2  # its burst of 2 is now used
    await client.aclose()
