"""Each kind of client the processes build (tasks/redis/clients.py) follows a Sentinel
failover by itself, in-process against a real Sentinel set: the gateway's pool and its job
store (Lua scripts sent again to the new primary, whose script cache is empty), the event
hub's pub/sub connection, the worker's riding-out job store, the dispatcher's client and the
health check. The whole stack across a failover: test_redis_failover.py."""

from __future__ import annotations

import asyncio
import hashlib
import time

import orjson
import pytest

from gateway.services.errors import Unavailable
from gateway.services.events import JobEventHub
from tasks.ids import random_uuid
from tasks.jobs.record import JobRecord, JobStatus, new_record_fields
from tasks.jobs.store import SUBMIT_LUA, Admission, AsyncJobStore, JobStore, SubmitOutcome
from tasks.redis.clients import Outage, async_client, gateway_client
from tasks.redis.keys import WORKERS_KEY, event_channel, job_key
from tests.support.sentinel import SentinelSet
from worker.jobs.healthcheck import check


async def create(store: AsyncJobStore) -> tuple[SubmitOutcome, str]:
    job_id = random_uuid()
    fields = new_record_fields(job_id, "sum_to_n_job", b'{"number": 1}', time.time(), None)
    return await store.create(fields, 600, Admission(), ("gw-test-queue", b"message"))


async def created_within(store: AsyncJobStore, seconds: float) -> tuple[str, float]:
    """The first job created (and confirmed by a replica) within `seconds`, and when."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            outcome, job_id = await create(store)
            if outcome is SubmitOutcome.CREATED:
                return job_id, time.monotonic()
        except Exception:  # redis-py's errors while the primary is gone
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.05)


@pytest.mark.timeout(90)
async def test_every_client_follows_a_failover(sentinels: SentinelSet) -> None:
    settings = sentinels.as_settings(REDIS_TIMEOUT_SECONDS="1", REDIS_MIN_REPLICA_ACKS="1")
    gateway = gateway_client(settings)
    store = AsyncJobStore(gateway, 1, settings.replica_ack_timeout_ms)
    hub = JobEventHub(gateway, confirm_timeout=1)
    dispatcher = async_client(settings, Outage.RETRY)
    worker_store = JobStore.from_settings(settings)
    try:
        outcome, before = await create(store)
        assert outcome is SubmitOutcome.CREATED
        old = sentinels.primary
        replicas = [s for p, s in sentinels.servers.items() if p != old.port]
        # WAIT: answered once a replica has it.
        assert any(r.client().hget(job_key(before), "status") == b"QUEUED" for r in replicas)

        # A command in flight when the primary dies is retried: on the new primary.
        in_flight = asyncio.create_task(
            asyncio.to_thread(worker_store.client.blpop, ["gw-test-nothing"], 0.5))
        async with hub.subscribe(before) as events:
            await asyncio.sleep(0.2)
            killed_at = time.monotonic()
            old.kill()
            # A follower is told at once that events are unavailable: no silent hang.
            event = await asyncio.wait_for(events.get(), 3)
            assert isinstance(event, Unavailable)

        # The worker's store rides the failover out: a transition made in the gap fails on
        # the dead connection, and its retries reach the new primary (FollowingConnection)
        # and send the Lua script there again.
        started = asyncio.create_task(
            asyncio.to_thread(worker_store.transition, before, JobStatus.STARTED))
        switched_at = await asyncio.to_thread(sentinels.wait_new_primary, old.port, 30)
        assert (await started).applied
        assert await in_flight is None  # its retry waited its half second on the new primary
        # The new primary has never run the submit script: the store sends it again.
        submit_sha = hashlib.sha1(SUBMIT_LUA.encode()).hexdigest()
        assert sentinels.primary.client().script_exists(submit_sha) == [False]

        after, created_at = await created_within(store, 30)
        print(f"\nfailover: Sentinels switched {switched_at - killed_at:.1f} s after the "
              f"kill, the gateway's store created again after "
              f"{created_at - killed_at:.1f} s")
        assert created_at - switched_at < 5

        async with hub.subscribe(after) as events:  # a new connection, to the new primary
            fields = new_record_fields(after, "sum_to_n_job", b"{}", time.time(), None)
            await dispatcher.publish(event_channel(after), orjson.dumps(
                [v.decode() if isinstance(v, bytes) else v
                 for pair in fields.items() for v in pair]))
            event = await asyncio.wait_for(events.get(), 3)
            assert isinstance(event, JobRecord) and event.id == after

        await dispatcher.zadd(WORKERS_KEY, {"celery@failover": time.time()})
        assert await asyncio.to_thread(check, settings, "celery@failover") is None
    finally:
        await hub.aclose()
        await gateway.aclose()
        await dispatcher.aclose()
        worker_store.client.close()
