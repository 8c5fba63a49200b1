"""The job listing indexes against a real Redis: submit.lua and transition.lua keep a job in
its status's, function's and (status, function)'s index; a page read from them is full
whatever the history holds, skips records gone early within SKIP_LIMIT, and trims
expired entries."""

from __future__ import annotations

import time
import uuid

import redis
import redis.asyncio as aioredis

from gateway.services.listing import SKIP_LIMIT, JobPage, Listing, decode_cursor, read_page
from tasks.jobs.record import JobStatus, as_text
from tasks.jobs.store import AsyncJobStore
from tasks.redis.keys import job_index_key, job_key
from tests.support.job_index import create_jobs_async, end_jobs
from tests.support.servers import RedisServer

SUM, WAIT = "sum_to_n_job", "wait_and_return"


def where(client: redis.Redis, job_id: str, tenant: str = "public") -> set[str]:
    """The names of the indexes holding the job."""
    keys = client.scan_iter(match=job_index_key(tenant) + "*")
    return {as_text(k) for k in keys if client.zscore(k, job_id) is not None}


async def page(url: str, status: JobStatus | None = None, function: str | None = None,
               first: int = 5, after: str | None = None, tenant: str = "public") -> JobPage:
    client = aioredis.Redis.from_url(url)
    try:
        return await read_page(AsyncJobStore(client), Listing(
            tenant=tenant, index=job_index_key(tenant, status, function), status=status,
            function=function, first=first,
            start=None if after is None else decode_cursor(after),
            oldest=time.time() - 24 * 3600))
    finally:
        await client.aclose()


async def walk(url: str, first: int, **filters: object) -> list[str]:
    ids: list[str] = []
    after = None
    while True:
        current = await page(url, first=first, after=after, **filters)
        ids += [record.id for _, record in current.edges]
        if not current.has_next_page:
            return ids
        after = current.end_cursor


async def test_submit_and_transitions_keep_the_indexes(
    own_redis: RedisServer, sync_client: redis.Redis,
) -> None:
    [job] = await create_jobs_async(own_redis.url, 1, WAIT, tenant="acme")
    main = job_index_key("acme")
    by_fn = job_index_key("acme", function=WAIT)

    def indexes(status: JobStatus) -> set[str]:
        return {main, by_fn, job_index_key("acme", status),
                job_index_key("acme", status, WAIT)}

    assert where(sync_client, job, "acme") == indexes(JobStatus.QUEUED)
    created = float(sync_client.hget(job_key(job), "created_at") or 0)
    assert sync_client.zscore(job_index_key("acme", JobStatus.QUEUED), job) == created
    end_jobs(sync_client, [job], JobStatus.FAILED)
    assert where(sync_client, job, "acme") == indexes(JobStatus.FAILED)
    assert sync_client.zscore(job_index_key("acme", JobStatus.FAILED, WAIT), job) == created
    # Nothing of it reached another tenant's listing, nor an empty status index.
    assert sync_client.keys(job_index_key("public") + "*") == []
    assert sync_client.zcard(job_index_key("acme", JobStatus.STARTED)) == 0
    assert (await page(own_redis.url, JobStatus.FAILED)).edges == []
    assert [r.id for _, r in (await page(own_redis.url, JobStatus.FAILED,
                                         tenant="acme")).edges] == [job]


async def test_ten_failed_among_twenty_thousand(
    own_redis: RedisServer, sync_client: redis.Redis,
) -> None:
    """The issue's check, with 20,000 jobs (not 100,000: the suite stays fast; a page reads
    the FAILED index only, so the count does not change what it reads)."""
    ids = await create_jobs_async(own_redis.url, 20_000)
    failed = ids[::2000]  # 10, spread over the whole history
    end_jobs(sync_client, failed, JobStatus.FAILED)
    newest_first = list(reversed(failed))
    sync_client.config_resetstat()
    first = await page(own_redis.url, JobStatus.FAILED, first=5)
    assert [r.id for _, r in first.edges] == newest_first[:5] and first.has_next_page
    # What one page cost: one index range, first + 1 records.
    stats = sync_client.info("commandstats")
    assert stats["cmdstat_hgetall"]["calls"] == 6, stats
    assert stats["cmdstat_zrevrangebyscore"]["calls"] == 1, stats
    second = await page(own_redis.url, JobStatus.FAILED, first=5, after=first.end_cursor)
    assert [r.id for _, r in second.edges] == newest_first[5:]
    assert not second.has_next_page
    assert await walk(own_redis.url, 3, status=JobStatus.FAILED, function=SUM) == newest_first
    assert await walk(own_redis.url, 3, status=JobStatus.FAILED, function=WAIT) == []
    queued = await page(own_redis.url, JobStatus.QUEUED, SUM, first=100)
    assert len(queued.edges) == 100 and queued.edges[0][1].id == ids[-1]


async def test_records_gone_early_are_skipped_within_a_bound(
    own_redis: RedisServer, sync_client: redis.Redis,
) -> None:
    ids = await create_jobs_async(own_redis.url, 12)
    end_jobs(sync_client, ids, JobStatus.SUCCEEDED)
    for job_id in ids[5:9]:
        sync_client.delete(job_key(job_id))  # evicted, say: before its time
    index = job_index_key("public", JobStatus.SUCCEEDED)
    kept = [j for j in reversed(ids) if j not in ids[5:9]]
    full = await page(own_redis.url, JobStatus.SUCCEEDED, first=5)
    assert [r.id for _, r in full.edges] == kept[:5] and full.has_next_page
    assert sync_client.zcard(index) == 8  # the gone ones met were dropped
    assert await walk(own_redis.url, 5, status=JobStatus.SUCCEEDED) == kept

    # More gone entries than a page passes over: a short page, then the rest.
    now = time.time()
    sync_client.zadd(index, {str(uuid.uuid4()): now + 1 + i / 1e4
                             for i in range(SKIP_LIMIT + 50)})
    short = await page(own_redis.url, JobStatus.SUCCEEDED, first=5)
    assert len(short.edges) < 5 and short.has_next_page
    assert await walk(own_redis.url, 5, status=JobStatus.SUCCEEDED) == kept
    assert sync_client.zcard(index) == 8


async def test_expired_entries_are_trimmed(
    own_redis: RedisServer, sync_client: redis.Redis,
) -> None:
    ancient = time.time() - 30 * 24 * 3600
    failed = job_index_key("public", JobStatus.FAILED)
    by_fn = job_index_key("public", function=SUM)
    sync_client.zadd(failed, {"old-failed": ancient})
    sync_client.zadd(by_fn, {"old-sum": ancient})
    [job] = await create_jobs_async(own_redis.url, 1)
    assert sync_client.zscore(by_fn, "old-sum") is None  # a submit trims its function's
    sync_client.zadd(job_index_key("public", JobStatus.QUEUED), {"old-queued": ancient})
    end_jobs(sync_client, [job], JobStatus.FAILED)  # a transition trims where it adds
    assert sync_client.zrange(failed, 0, -1) == [job.encode()]
    # A listing trims the index it reads, whatever wrote it.
    assert (await page(own_redis.url, JobStatus.QUEUED)).edges == []
    assert sync_client.zcard(job_index_key("public", JobStatus.QUEUED)) == 0


async def test_an_undone_submit_leaves_no_index_entry(
    own_redis: RedisServer, sync_client: redis.Redis,
) -> None:
    """A submit whose message could not be published is undone (gateway/services/jobs.py)."""
    [job] = await create_jobs_async(own_redis.url, 1, WAIT)
    client = aioredis.Redis.from_url(own_redis.url)
    try:
        await AsyncJobStore(client).delete(job, "public", WAIT)
    finally:
        await client.aclose()
    assert where(sync_client, job) == set() and not sync_client.exists(job_key(job))
