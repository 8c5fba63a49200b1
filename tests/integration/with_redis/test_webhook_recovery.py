"""The failed-message index, its pages, recover and the operational events, against a real
Redis: the Lua scripts keep the index as outcomes are recorded (never a scan), a page is
full unless it is the last, recover resends exactly an endpoint's failed messages since a
time through the redelivery path, once, and the operational events are made once each,
never about an operational event."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

import orjson
import redis

from tasks.jobs.record import JobStatus, new_record_fields
from tasks.jobs.store import JobStore
from tasks.redis.keys import delivery_key, endpoint_key, failed_index_key, job_key
from tasks.redis.time_index import Position
from tasks.webhooks.failed import FailedIndex
from tasks.webhooks.model import DeliveryAttempt, DeliveryStatus, delivery_body
from tasks.webhooks.store import AttemptOutcome, ClaimedDelivery, Outcome, WebhookStore
from tests.support.delivery_schedule import operational
from tests.support.webhook_store import add_endpoint

OPS = ["endpoint.disabled", "message.attempt.exhausted"]


def finished_job(client: redis.Redis, callback: str | None = None,
                 tenant: str = "public") -> str:
    job_id = str(uuid.uuid4())
    fields = new_record_fields(job_id, "sum_to_n_job", b'{"number": 1}', time.time(), callback)
    fields["tenant"] = tenant
    client.hset(job_key(job_id), mapping=fields)
    client.expire(job_key(job_id), 3600)
    JobStore(client).transition(job_id, JobStatus.SUCCEEDED, {"result": b"1"})
    return job_id


def attempt(status: int | None) -> DeliveryAttempt:
    return DeliveryAttempt(number=1, at=time.time(), duration_ms=1.0, status_code=status,
                           error=None if status == 200 else "server_error", response_body="")


async def claim_all(store: WebhookStore) -> list[ClaimedDelivery]:
    _, claimed = await store.claim(500, 60, 500)
    return claimed


async def finish(store: WebhookStore, claimed: Iterable[ClaimedDelivery], outcome: Outcome,
                 status: int | None = 500) -> None:
    await store.complete([AttemptOutcome(c.id, c.token, outcome, 3600, "server_error"
                                         if outcome != "succeeded" else None, attempt(status))
                          for c in claimed])


def index(client: redis.Redis, scope: str, dead: bool = False) -> set[str]:
    key = failed_index_key(scope, dead=dead, destination="|" in scope)
    return {text(m) for m in client.zrange(key, 0, -1)}


def text(value: object) -> str:
    assert isinstance(value, bytes)
    return value.decode()


def status_of(client: redis.Redis, delivery_id: str) -> str:
    return text(client.hget(delivery_key(delivery_id), "status"))


async def test_the_index_follows_each_outcome(store: WebhookStore,
                                              sync_client: redis.Redis) -> None:
    endpoint, _ = await add_endpoint(store, "public", "https://a.example/", ("job.succeeded",))
    dest = f"public|{endpoint.id}"
    for _ in range(3):
        finished_job(sync_client)
    first, second, third = await claim_all(store)
    await finish(store, [first], "retry")
    await finish(store, [second], "dead")
    await finish(store, [third], "succeeded", 200)
    assert index(sync_client, "public") == index(sync_client, dest) == {first.id, second.id}
    assert index(sync_client, "public", dead=True) == index(sync_client, dest, dead=True) == {
        second.id}
    # Redelivered: no longer dead, still failed (its last attempt failed) until a success.
    assert await store.redeliver(second.id) == "ok"
    assert index(sync_client, dest, dead=True) == set()
    assert index(sync_client, dest) == {first.id, second.id}
    [again] = await claim_all(store)
    await finish(store, [again], "succeeded", 200)
    assert index(sync_client, dest) == {first.id}
    # A deleted endpoint's message, dead-lettered by the claim, is indexed too.
    job_id = finished_job(sync_client)
    sync_client.delete(endpoint_key(endpoint.id))
    assert await claim_all(store) == []
    [dead] = await store.job_deliveries(job_id)
    assert dead.last_error == "endpoint_deleted" and dead.id in index(sync_client, dest, True)


async def pages(failed: FailedIndex, first: int, **query: object) -> list[list[str]]:
    out: list[list[str]] = []
    after: Position | None = None
    while True:
        page = await failed.page(after=after, first=first, **query)
        out.append([d.id for _, d in page.deliveries])
        if not page.has_next_page:
            return out
        after = page.deliveries[-1][0]


async def test_pages_are_full_but_the_last_in_order_across_ties_and_expiry(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    """Each job makes 3 messages created at the same time (its callback, two endpoints):
    ties in the tenant's index. 7 jobs, 21 failed messages, pages of 4."""
    for url in ("https://a.example/", "https://b.example/"):
        await add_endpoint(store, "public", url, None)
    for _ in range(7):
        finished_job(sync_client, "https://cb.example/hook")
    await finish(store, await claim_all(store), "dead")
    failed = FailedIndex(store.client, store)
    query = {"tenant": "public", "endpoint_id": None, "dead": False, "since": None,
             "until": None}
    listed = await pages(failed, 4, **query)
    assert [len(p) for p in listed] == [4, 4, 4, 4, 4, 1]
    flat = [i for p in listed for i in p]
    assert len(set(flat)) == 21
    created = [float(text(sync_client.hget(delivery_key(i), "created_at"))) for i in flat]
    assert created == sorted(created, reverse=True)
    # Two expired deliveries: skipped (and dropped from the index), pages still full.
    sync_client.delete(delivery_key(flat[1]), delivery_key(flat[6]))
    listed = await pages(failed, 4, **query)
    assert [len(p) for p in listed] == [4, 4, 4, 4, 3]
    assert [i for p in listed for i in p] == [i for i in flat if i not in (flat[1], flat[6])]
    assert len(index(sync_client, "public")) == 19
    # Only dead ones, of one time range: the same index, bounded by creation time.
    middle = created[9]
    listed = await pages(failed, 5, **{**query, "dead": True, "since": middle,
                                         "until": middle})
    assert [len(p) for p in listed] == [3]
    # Another tenant sees nothing.
    assert await pages(failed, 5, **{**query, "tenant": "other"}) == [[]]


async def recover_all(store: WebhookStore, endpoint_id: str, since: float,
                      tenant: str = "public", most: int = 2) -> tuple[str, int, int, int]:
    """Recover in batches of `most` (so the cursor and its ties are used)."""
    resumed = pending = sending = 0
    after = None
    while True:
        batch = await store.recover_batch(tenant, endpoint_id, since, None, after, most)
        if batch.result != "ok":
            return batch.result, resumed, pending, sending
        resumed, pending, sending = (resumed + batch.resumed, pending + batch.pending,
                                     sending + batch.sending)
        if batch.next is None:
            return "ok", resumed, pending, sending
        after = batch.next


async def test_recover_resends_exactly_the_failed_since_once(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    endpoint, _ = await add_endpoint(store, "public", "https://a.example/", None)
    other, _ = await add_endpoint(store, "public", "https://b.example/", None)
    for _ in range(2):
        finished_job(sync_client)
    before = await claim_all(store)
    await finish(store, before, "dead")
    since = max(float(c.fields["created_at"]) for c in before) + 1e-6
    for _ in range(6):
        finished_job(sync_client)
    claimed = await claim_all(store)
    mine = [c for c in claimed if c.fields["endpoint_id"] == endpoint.id]
    others = [c for c in claimed if c.fields["endpoint_id"] == other.id]
    await finish(store, mine[:2], "dead")
    await finish(store, mine[2:4], "retry")  # waiting an hour for the next retry
    await finish(store, mine[4:5], "succeeded", 200)
    await finish(store, others, "dead")  # another endpoint's: never touched
    sending = mine[5]  # still in flight
    # Make the in-flight one failed too (an earlier attempt failed), still SENDING.
    sync_client.zadd(failed_index_key(f"public|{endpoint.id}", dead=False, destination=True),
                     {sending.id: float(sending.fields["created_at"])})

    result = await recover_all(store, endpoint.id, since)
    assert result == ("ok", 4, 0, 1)
    resent = await claim_all(store)
    assert {c.id for c in resent} == {c.id for c in mine[:4]}  # not before `since`, not delivered
    for c in before + others:
        assert status_of(sync_client, c.id) == "DEAD_LETTERED"
    # Again while they are in flight: left alone; once delivered, they are not failed.
    assert await recover_all(store, endpoint.id, since) == ("ok", 0, 0, 5)
    assert await claim_all(store) == []
    await finish(store, resent, "succeeded", 200)
    assert await recover_all(store, endpoint.id, since) == ("ok", 0, 0, 1)


async def test_recover_skips_what_is_already_due_and_refuses_disabled_or_foreign(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    endpoint, _ = await add_endpoint(store, "public", "https://a.example/", None)
    since = time.time()
    for _ in range(3):
        finished_job(sync_client)
    await finish(store, await claim_all(store), "dead")
    assert await recover_all(store, endpoint.id, since) == ("ok", 3, 0, 0)
    assert await recover_all(store, endpoint.id, since) == ("ok", 0, 3, 0)  # already due
    assert len(await claim_all(store)) == 3  # one each
    assert await recover_all(store, endpoint.id, since, tenant="other") == ("missing", 0, 0, 0)
    assert await recover_all(store, "wh_" + "0" * 32, since) == ("missing", 0, 0, 0)
    sync_client.hset(endpoint_key(endpoint.id), "enabled", "0")
    assert await recover_all(store, endpoint.id, since) == ("disabled", 0, 0, 0)


async def test_a_410_disables_once_and_tells_the_other_subscribers(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    gone, _ = await add_endpoint(store, "public", "https://gone.example/", ("job.succeeded",))
    ops, _ = await add_endpoint(store, "public", "https://ops.example/", tuple(OPS))
    every, _ = await add_endpoint(store, "public", "https://all.example/", None)
    other_tenant, _ = await add_endpoint(store, "other", "https://x.example/", tuple(OPS))
    job_id = finished_job(sync_client)
    finished_job(sync_client)
    claimed = [c for c in await claim_all(store) if c.fields["endpoint_id"] == gone.id]
    await finish(store, claimed, "gone", 410)  # two 410s: disabled once
    [event] = operational(sync_client, "endpoint.disabled")
    assert event["endpoint_id"] == ops.id and event["destination"] == f"public|{ops.id}"
    assert event["status"] == "PENDING"
    data = orjson.loads(event["data"])
    assert data == {"endpoint_id": gone.id, "url": "https://gone.example/",
                    "reason": "the receiver answered 410 Gone",
                    "message_id": data["message_id"], "job_id": data["job_id"],
                    "last_status_code": 410}
    assert data["message_id"] in {c.id for c in claimed}
    assert data["job_id"] == text(sync_client.hget(delivery_key(data["message_id"]), "job_id"))
    body = orjson.loads(delivery_body(event))
    assert body["type"] == "endpoint.disabled" and body["data"] == data
    assert body["timestamp"].startswith("20")
    # Claimed like any message: the subscriber's only (not the "every event" one's, nor the
    # other tenant's); and the job's own message to the disabled endpoint is held.
    sent = await claim_all(store)
    assert [(c.id, c.fields["endpoint_id"]) for c in sent] == [(event["id"], ops.id)]
    assert {every.id, other_tenant.id}.isdisjoint(
        e["endpoint_id"] for e in operational(sync_client, "endpoint.disabled"))
    assert {d.status for d in await store.job_deliveries(job_id)
            if d.endpoint_id == gone.id} == {DeliveryStatus.PAUSED}


async def test_exhaustion_is_told_but_never_about_an_operational_event(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    ops, _ = await add_endpoint(store, "public", "https://ops.example/", tuple(OPS))
    job_id = finished_job(sync_client, "https://cb.example/hook")
    [callback] = await claim_all(store)
    await finish(store, [callback], "dead", 503)
    [event] = operational(sync_client, "message.attempt.exhausted")
    assert orjson.loads(event["data"]) == {
        "message_id": callback.id, "event": "job.succeeded", "endpoint_id": None,
        "job_id": job_id, "attempts": 1, "last_status_code": 503, "reason": "server_error"}
    # The event itself fails for good: nothing more (no event about an event).
    [sent] = await claim_all(store)
    assert sent.id == event["id"] and sent.fields["endpoint_id"] == ops.id
    await finish(store, [sent], "dead", 500)
    assert len(operational(sync_client, "message.attempt.exhausted")) == 1
    assert await claim_all(store) == []


async def test_a_chain_of_disables_ends(store: WebhookStore, sync_client: redis.Redis) -> None:
    """A and B both take job events and operational events and answer 410 to everything:
    A's 410 disables A and tells B; B's 410 to that disables B and tells nobody (A is
    disabled): the chain ends."""
    a, _ = await add_endpoint(store, "public", "https://a.example/", ("job.succeeded", *OPS))
    b, _ = await add_endpoint(store, "public", "https://b.example/", tuple(OPS))
    finished_job(sync_client)
    rounds = 0
    while claimed := await claim_all(store):
        rounds += 1
        assert rounds < 5, "the chain does not end"
        await finish(store, claimed, "gone", 410)
    assert rounds == 2
    events = operational(sync_client, "endpoint.disabled")
    assert [e["endpoint_id"] for e in events] == [b.id]
    for endpoint in (a, b):
        current = await store.get_endpoint(endpoint.id, endpoint.tenant)
        assert current is not None and not current.enabled
    assert status_of(sync_client, events[0]["id"]) == DeliveryStatus.PAUSED.value
