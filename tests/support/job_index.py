"""Many jobs at once, through the real submit and transition scripts (not the gateway's HTTP
faces): for listing tests that need an index far larger than its answers."""

from __future__ import annotations

import asyncio
import time

import redis
import redis.asyncio as aioredis

from tasks.ids import random_uuid
from tasks.jobs.record import JobStatus, new_record_fields
from tasks.jobs.store import Admission, AsyncJobStore, JobStore, SubmitOutcome
from tasks.redis.keys import tenant_index_key

TTL = 3600
CHUNK = 2000


async def create_jobs_async(url: str, count: int, function: str = "sum_to_n_job",
                            tenant: str = "public", ttl: int = TTL) -> list[str]:
    """`count` QUEUED jobs of `tenant`, oldest first, created 0.1 ms apart ending now (the
    store batches them into submit.lua calls of CREATE_BATCH_MAX jobs)."""
    client = aioredis.Redis.from_url(url)
    store = AsyncJobStore(client)
    start = time.time() - count * 1e-4
    ids = [random_uuid() for _ in range(count)]
    outcomes = []
    try:
        for at in range(0, count, CHUNK):  # a bounded number of calls waiting for a connection
            outcomes += await asyncio.gather(*(
                store.create(new_record_fields(job_id, function, b'{"number":1}',
                                               start + i * 1e-4, None, tenant),
                             ttl, Admission(tenant=tenant))
                for i, job_id in enumerate(ids[at:at + CHUNK], start=at)))
    finally:
        await client.aclose()
    assert all(outcome is SubmitOutcome.CREATED for outcome, _ in outcomes)
    return ids


def create_jobs(url: str, count: int, function: str = "sum_to_n_job",
                tenant: str = "public", ttl: int = TTL) -> list[str]:
    return asyncio.run(create_jobs_async(url, count, function, tenant, ttl))


def end_jobs(client: redis.Redis, job_ids: list[str], status: JobStatus) -> None:
    """Start the jobs and end them with `status`, as the worker's hooks do."""
    store = JobStore(client)
    for job_id in job_ids:
        assert store.transition(job_id, JobStatus.STARTED).applied
        assert store.transition(job_id, status).applied


def clear_indexes(client: redis.Redis, tenant: str = "public") -> None:
    """Empty a tenant's listing: its main index and its filtered ones."""
    keys = list(client.scan_iter(match=tenant_index_key(tenant) + "*", count=1000))
    if keys:
        client.delete(*keys)
