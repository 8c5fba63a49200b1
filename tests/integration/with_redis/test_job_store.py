"""The job store (tasks/jobs/store.py) against a real Redis: the transition rules, and the
sweep that pushes lost messages back."""

from __future__ import annotations

import time
import uuid

import redis.asyncio as aioredis

from tasks.jobs.record import (
    JobStatus,
    new_record_fields,
    record_from_event,
)
from tasks.jobs.store import JobStore
from tasks.redis.keys import METRICS_PREFIX, event_channel, job_key
from tests.support.servers import RedisServer

METRICS_T = f"{METRICS_PREFIX}t"  # a counter hash of this test's own


def test_transitions_against_real_redis(redis_server: RedisServer) -> None:
    client = redis_server.client()
    store = JobStore(client)
    job_id = str(uuid.uuid4())
    pubsub = client.pubsub()
    pubsub.subscribe(event_channel(job_id))
    pubsub.get_message(timeout=1)

    assert store.transition(job_id, JobStatus.STARTED).previous is None  # no record
    assert not client.exists(job_key(job_id))  # a late event never re-creates a record

    client.hset(job_key(job_id),
                mapping=new_record_fields(job_id, "sum_to_n_job", b"{}", time.time(), None))
    started = store.transition(job_id, JobStatus.STARTED, count_attempt=True)
    assert started.applied and started.previous is JobStatus.QUEUED and started.attempts == 1
    # A job's end is counted by its transition's own call, and only if it applies.
    done = store.transition(job_id, JobStatus.SUCCEEDED, {"result": b"3"}, counters=[
        ("hincrby", METRICS_T, "SUCCEEDED", 1), ("hincrbyfloat", METRICS_T, "s", 0.25)])
    assert done.applied
    late = store.transition(job_id, JobStatus.FAILED, {"error": b'{"type":"X","message":""}'},
                            counters=[("hincrby", METRICS_T, "FAILED", 1)])
    assert not late.applied and late.previous is JobStatus.SUCCEEDED
    assert client.hgetall(METRICS_T) == {b"SUCCEEDED": b"1", b"s": b"0.25"}
    record = store.get(job_id)
    assert record is not None
    assert record.status is JobStatus.SUCCEEDED and record.result == 3 and record.error is None

    events = []
    while (msg := pubsub.get_message(timeout=1)) is not None:
        if msg["type"] == "message":
            events.append(record_from_event(msg["data"]).status)
    assert events == [JobStatus.STARTED, JobStatus.SUCCEEDED]  # the refused one is silent


async def test_lost_messages_are_pushed_back(fresh_redis: RedisServer) -> None:
    """kombu can lose a message between BRPOP and its unacked record: recover.lua finds
    QUEUED jobs whose message is nowhere and pushes the kept copy back, and only those.
    (A Redis of its own: the session's holds other tests' jobs, which the sweep may look
    at first.)"""
    await _check_pushed_back(fresh_redis)


async def _check_pushed_back(redis_server: RedisServer) -> None:
    import json

    from gateway.services.publish import celery_message
    from tasks.jobs.store import Admission, AsyncJobStore
    from tasks.redis.keys import QUEUED_KEY

    queue = "recover-test"
    sync = redis_server.client()
    sync.delete(queue, "recover-unacked")
    store = AsyncJobStore(aioredis.Redis.from_url(redis_server.url))
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for job_id in ids:
        message = celery_message("sum_to_n_job", job_id, {"number": 1}, queue)
        fields = new_record_fields(job_id, "sum_to_n_job", b'{"number":1}', time.time(), None)
        await store.create(fields, 600, Admission(), (queue, message))
    worker_side = JobStore(sync)
    taken = [sync.rpop(queue), sync.rpop(queue)]  # two taken off the queue ...
    tag = json.loads(taken[1])["properties"]["delivery_tag"]
    sync.hset("recover-unacked", tag, taken[1])  # ... one of them recorded as unacked
    assert worker_side.requeue_lost(older_than=0, unacked_key="recover-unacked") == 1
    assert sync.llen(queue) == 2 and taken[0] in sync.lrange(queue, 0, -1)
    assert worker_side.requeue_lost(older_than=0, unacked_key="recover-unacked") == 0
    started = json.loads(taken[0])["headers"]["id"]
    worker_side.transition(started, JobStatus.STARTED, count_attempt=True)
    assert sync.zscore(QUEUED_KEY, started) is None  # out of the queue: no longer watched
    assert not sync.hexists(job_key(started), "message")
    await store.client.aclose()
