"""The job event hub in-process against a real Redis: fan-out, an idle gap longer than
redis-py's health-check interval before the next subscriber (redis-py then reads a PING
reply itself when no channel is subscribed, racing the hub's reader for the socket), and a
tenant's subscriber that falls behind."""

from __future__ import annotations

import asyncio
import time
import uuid

import orjson
import redis.asyncio as aioredis

from gateway.services.errors import Unavailable
from gateway.services.events import JobEventHub
from tasks.jobs.record import JobRecord, new_record_fields
from tasks.redis.keys import event_channel, tenant_event_channel
from tests.support.servers import RedisServer


def event_of(job_id: str) -> bytes:
    """A record as transition.lua publishes it: its hash's fields and values, flat."""
    fields = new_record_fields(job_id, "sum_to_n_job", b'{"number": 1}', time.time(), None)
    flat = [item for pair in fields.items() for item in pair]
    return orjson.dumps([v.decode() if isinstance(v, bytes) else v for v in flat])


def publish(redis_server: RedisServer, job_id: str) -> None:
    redis_server.client().publish(event_channel(job_id), event_of(job_id))


async def test_fan_out_and_idle_gaps(redis_server: RedisServer) -> None:
    client = aioredis.Redis.from_url(redis_server.url, health_check_interval=1)
    hub = JobEventHub(client, confirm_timeout=5)
    job_id = str(uuid.uuid4())
    try:
        for gap in (2.5, 0):  # no subscriber left, well past the health-check interval
            async with hub.subscribe(job_id) as first, hub.subscribe(job_id) as second:
                assert hub.channel_count == 1 and hub.subscriber_count == 2
                publish(redis_server, job_id)
                for events in (first, second):
                    event = await asyncio.wait_for(events.get(), 5)
                    assert isinstance(event, JobRecord) and event.id == job_id
            assert hub.subscriber_count == 0
            await asyncio.sleep(gap)
    finally:
        await hub.aclose()
        await client.aclose()


async def test_a_tenant_subscriber_that_falls_behind_is_ended(
        redis_server: RedisServer) -> None:
    """A tenant's channel carries every change of all its jobs: a subscriber past its
    backlog reads an Unavailable next, and its queue grows no longer."""
    client = aioredis.Redis.from_url(redis_server.url)
    hub = JobEventHub(client, confirm_timeout=5)
    tenant = f"t{uuid.uuid4().hex[:8]}"
    try:
        async with hub.subscribe_tenant(tenant, backlog=3) as behind, \
                hub.subscribe_tenant(tenant) as keeping_up:
            for _ in range(5):
                redis_server.client().publish(tenant_event_channel(tenant), event_of(
                    str(uuid.uuid4())))
            for _ in range(5):
                assert isinstance(await asyncio.wait_for(keeping_up.get(), 5), JobRecord)
            assert behind.qsize() <= 3
            assert isinstance(behind.get_nowait(), Unavailable)  # what it reads next
    finally:
        await hub.aclose()
        await client.aclose()
