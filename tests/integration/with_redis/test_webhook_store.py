"""The webhook store's Lua scripts against a real Redis: deliveries created exactly once by
the terminal transition, atomic claims, leases, outcomes, replay, enable and delete."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import redis
import redis.asyncio as aioredis

from tasks.jobs.record import JobStatus, new_record_fields
from tasks.jobs.store import JobStore
from tasks.redis.keys import (
    DEAD_KEY,
    INFLIGHT_KEY,
    delivery_key,
    endpoint_key,
    job_deliveries_key,
    job_key,
    paused_key,
)
from tasks.webhooks.model import DeliveryAttempt, DeliveryStatus
from tasks.webhooks.store import AttemptOutcome, ClaimedDelivery, WebhookStore
from tests.support.delivery_schedule import due_count
from tests.support.servers import RedisServer
from tests.support.webhook_store import TEST_BOX, add_endpoint

CALLBACK = "https://receiver.example/hook"


def new_job(client: redis.Redis, callback: str | None = CALLBACK) -> str:
    job_id = str(uuid.uuid4())
    client.hset(job_key(job_id), mapping=new_record_fields(
        job_id, "sum_to_n_job", b'{"number": 1}', time.time(), callback))
    client.expire(job_key(job_id), 3600)
    return job_id


def text(value: object) -> str:
    assert isinstance(value, bytes)
    return value.decode()


def attempt(number: int = 1, status: int | None = 200) -> DeliveryAttempt:
    return DeliveryAttempt(number=number, at=time.time(), duration_ms=1.0, status_code=status,
                           error=None if status == 200 else "server_error", response_body="")


async def test_terminal_transition_creates_one_delivery_per_target(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    every, _ = await add_endpoint(store, "public", "https://a.example/")
    _failed_only, _ = await add_endpoint(store, "public", "https://b.example/", ("job.failed",))
    disabled, _ = await add_endpoint(store, "public", "https://c.example/", ("job.succeeded",))
    sync_client.hset(endpoint_key(disabled.id), "enabled", "0")
    jobs = JobStore(sync_client)
    job_id = new_job(sync_client)
    assert jobs.transition(job_id, JobStatus.SUCCEEDED, {"result": b"1"}).applied
    assert not jobs.transition(job_id, JobStatus.SUCCEEDED, {"result": b"1"}).applied
    assert not jobs.transition(job_id, JobStatus.FAILED).applied

    deliveries = await store.job_deliveries(job_id)
    by_target = {d.endpoint_id: d for d in deliveries}
    assert len(deliveries) == 3 and set(by_target) == {None, every.id, disabled.id}
    assert {d.event for d in deliveries} == {"job.succeeded"}
    assert by_target[None].url == CALLBACK
    assert by_target[every.id].status is DeliveryStatus.PENDING
    assert by_target[disabled.id].status is DeliveryStatus.PAUSED
    assert sync_client.zrange(paused_key(disabled.id), 0, -1) == [
        by_target[disabled.id].id.encode()]
    assert due_count(sync_client) == 2
    assert len({d.id for d in deliveries}) == 3 and all(d.id.startswith("msg_")
                                                         for d in deliveries)
    # A non-terminal transition and a job without callback or matching endpoint make none.
    quiet = new_job(sync_client, callback=None)
    jobs.transition(quiet, JobStatus.STARTED, count_attempt=True)
    assert await store.job_deliveries(quiet) == []
    jobs.transition(quiet, JobStatus.CANCELLED)
    assert [d.endpoint_id for d in await store.job_deliveries(quiet)] == [every.id]


def test_cancel_racing_success_makes_one_message_per_target(
    own_redis: RedisServer, sync_client: redis.Redis,
) -> None:
    """Two workers' signals and a cancel, each in its own thread and connection, released
    together: per job one terminal status and one delivery per target, of that event."""
    job_ids = [new_job(sync_client) for _ in range(40)]
    statuses = [JobStatus.SUCCEEDED, JobStatus.SUCCEEDED, JobStatus.CANCELLED, JobStatus.FAILED]
    barrier = threading.Barrier(len(statuses))

    def signal(status: JobStatus) -> None:
        store = JobStore(own_redis.client())
        for job_id in job_ids:
            barrier.wait()
            store.transition(job_id, status)

    threads = [threading.Thread(target=signal, args=(s,)) for s in statuses]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    events = {"SUCCEEDED": "job.succeeded", "CANCELLED": "job.cancelled", "FAILED": "job.failed"}
    for job_id in job_ids:
        status = text(sync_client.hget(job_key(job_id), "status"))
        delivery_ids = [text(i) for i in sync_client.lrange(job_deliveries_key(job_id), 0, -1)]
        assert len(delivery_ids) == 1, job_id
        assert text(sync_client.hget(delivery_key(delivery_ids[0]), "event")) == events[status]
    assert due_count(sync_client) == len(job_ids)


async def test_concurrent_claims_never_share_a_delivery(
    own_redis: RedisServer, sync_client: redis.Redis,
) -> None:
    jobs = JobStore(sync_client)
    for _ in range(200):
        jobs.transition(new_job(sync_client), JobStatus.SUCCEEDED)
    clients = [aioredis.Redis.from_url(own_redis.url) for _ in range(8)]

    async def claim_all(store: WebhookStore) -> list[str]:
        mine: list[str] = []
        while True:
            _, claimed = await store.claim(7, 60, 1000)
            if not claimed:
                return mine
            mine += [c.id for c in claimed]

    try:
        results = await asyncio.gather(*(claim_all(WebhookStore(c, TEST_BOX)) for c in clients))
    finally:
        for c in clients:
            await c.aclose()
    claimed = [i for r in results for i in r]
    assert len(claimed) == 200 and len(set(claimed)) == 200
    assert sum(1 for r in results if r) > 1  # they really competed
    assert sync_client.zcard(INFLIGHT_KEY) == 200 and due_count(sync_client) == 0


async def claim_once_free(store: WebhookStore, within: float = 10) -> ClaimedDelivery:
    """The one delivery a claim gets once its lease has run out (by Redis' clock)."""
    deadline = time.monotonic() + within
    while not (claimed := (await store.claim(10, 60, 10))[1]):
        assert time.monotonic() < deadline, f"nothing claimable again within {within} s"
        await asyncio.sleep(0.02)
    [delivery] = claimed
    return delivery


async def test_an_expired_lease_is_claimed_again_and_the_old_holder_is_fenced(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    JobStore(sync_client).transition(new_job(sync_client), JobStatus.SUCCEEDED)
    _, [first] = await store.claim(10, 0.3, 10)
    assert (await store.claim(10, 0.3, 10))[1] == []  # leased: nobody else gets it
    second = await claim_once_free(store)
    assert second.id == first.id and int(second.token) == int(first.token) + 1
    # The first holder finishes late: its attempt is logged but changes nothing.
    await store.complete([AttemptOutcome(first.id, first.token, "succeeded", 0, None,
                                         attempt())])
    delivery = await store.get_delivery(first.id)
    assert delivery is not None
    assert delivery.status is DeliveryStatus.SENDING and len(delivery.attempts) == 1
    await store.complete([AttemptOutcome(second.id, second.token, "retry", 30, "server_error",
                                         attempt(2, 500))])
    delivery = await store.get_delivery(first.id)
    assert delivery is not None and delivery.status is DeliveryStatus.PENDING
    assert delivery.attempt_count == 2 and delivery.last_error == "server_error"
    assert delivery.next_attempt_at is not None and delivery.next_attempt_at > time.time() + 20
    wait, claimed = await store.claim(10, 60, 10)
    assert claimed == [] and wait is not None and 20 < wait <= 30


async def test_dead_letter_then_redeliver(store: WebhookStore, sync_client: redis.Redis) -> None:
    job_id = new_job(sync_client)
    JobStore(sync_client).transition(job_id, JobStatus.FAILED)
    _, [claimed] = await store.claim(10, 60, 10)
    assert await store.redeliver(claimed.id) == "sending"
    await store.complete([AttemptOutcome(claimed.id, claimed.token, "dead", 0, "client_error",
                                         attempt(1, 400))])
    assert sync_client.zscore(DEAD_KEY, claimed.id) is not None
    delivery = await store.get_delivery(claimed.id)
    assert delivery is not None and delivery.status is DeliveryStatus.DEAD_LETTERED
    assert await store.redeliver(claimed.id) == "ok"
    assert sync_client.zscore(DEAD_KEY, claimed.id) is None
    _, [again] = await store.claim(10, 60, 10)
    assert again.id == claimed.id and again.fields["round"] == "0"
    assert await store.redeliver("msg_" + "0" * 32) == "missing"
    assert await store.redeliver("not-an-id") == "missing"


async def test_gone_disables_endpoint_enable_resumes(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    endpoint, _ = await add_endpoint(store, "public", "https://a.example/")
    jobs = JobStore(sync_client)
    jobs.transition(new_job(sync_client, callback=None), JobStatus.SUCCEEDED)
    _, [claimed] = await store.claim(10, 60, 10)
    await store.complete([AttemptOutcome(claimed.id, claimed.token, "gone", 0, "client_error",
                                         attempt(1, 410))])
    current = await store.get_endpoint(endpoint.id, "public")
    assert current is not None and not current.enabled and current.disabled_reason
    assert await store.redeliver(claimed.id) == "endpoint_disabled"
    jobs.transition(new_job(sync_client, callback=None), JobStatus.SUCCEEDED)  # held, not lost
    assert sync_client.zcard(paused_key(endpoint.id)) == 2
    assert await store.enable_endpoint(endpoint.id) == 2
    _, resumed = await store.claim(10, 60, 10)
    assert len(resumed) == 2 and {r.fields["status"] for r in resumed} == {"SENDING"}
    assert await store.enable_endpoint("wh_" + "0" * 32) is None


async def test_deleting_an_endpoint_dead_letters_its_messages(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    endpoint, _ = await add_endpoint(store, "public", "https://a.example/")
    jobs = JobStore(sync_client)
    jobs.transition(new_job(sync_client, callback=None), JobStatus.SUCCEEDED)
    sync_client.hset(endpoint_key(endpoint.id), "enabled", "0")
    job_id = new_job(sync_client, callback=None)
    jobs.transition(job_id, JobStatus.SUCCEEDED)  # created paused
    assert await store.delete_endpoint("public", endpoint.id)
    assert await store.list_endpoints("public") == []
    _, claimed = await store.claim(10, 60, 10)
    assert claimed == []
    for delivery in (await store.job_deliveries(job_id)):
        assert delivery.status is DeliveryStatus.DEAD_LETTERED
        assert delivery.last_error == "endpoint_deleted"
        assert await store.redeliver(delivery.id) == "endpoint_deleted"
    assert sync_client.zcard(DEAD_KEY) == 2
    assert not await store.delete_endpoint("public", endpoint.id)


async def test_rotation_keeps_the_old_secret_for_the_grace(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    endpoint, first = await add_endpoint(store, "public", "https://a.example/")
    second = await store.rotate_secret(endpoint.id, 3600)
    assert second is not None and second != first
    fields = {text(k): text(v) for k, v in sync_client.hgetall(endpoint_key(endpoint.id)).items()}
    # Stored sealed: the secrets the caller got open from them, and appear nowhere in clear.
    assert TEST_BOX.open(fields["secret"]) == second
    assert TEST_BOX.open(fields["previous_secret"]) == first
    assert not {first, second} & set(fields.values())
    assert float(fields["previous_secret_until"]) > time.time() + 3500
    assert await store.rotate_secret("wh_" + "1" * 32, 60) is None


async def test_dead_letter_index_is_trimmed(store: WebhookStore, sync_client: redis.Redis) -> None:
    jobs = JobStore(sync_client)
    for _ in range(2):
        jobs.transition(new_job(sync_client), JobStatus.FAILED)
    _, [old, new] = await store.claim(10, 60, 10)
    await store.complete([AttemptOutcome(old.id, old.token, "dead", 0, "client_error",
                                         attempt(1, 400))])
    assert sync_client.zcard(DEAD_KEY) == 1
    await asyncio.sleep(0.01)
    # Kept for as long as a delivery lives; here no time at all: the older entry goes.
    await store.complete([AttemptOutcome(new.id, new.token, "dead", 0, "client_error",
                                         attempt(1, 400))], dead_letter_retention=0.005)
    assert [text(m) for m in sync_client.zrange(DEAD_KEY, 0, -1)] == [new.id]
