"""The claim's schedule against a real Redis (tasks/webhooks/destinations.lua and
deliveries_claim.lua): each delivery's destination, round robin across destinations and
tenants, the cap per destination, a lapsed lease freeing its slot, and deliveries an older
version left in the one due set."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import redis
import redis.asyncio as aioredis

from tasks.redis.keys import INFLIGHT_KEY, KEY_PREFIX, LEGACY_DUE_KEY, delivery_key
from tasks.webhooks.store import WebhookStore
from tests.support.delivery_schedule import dest, due_count, ended_jobs, pending_ids, succeeded
from tests.support.servers import RedisServer
from tests.support.webhook_store import TEST_BOX, add_endpoint


async def test_destination_is_the_endpoint_or_the_callback_origin(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    same = ["HTTP://Example.COM/a", "http://example.com:80/b?x=1", "http://user:pw@example.com./c"]
    others = {"https://example.com/": "https://example.com:443",
              "https://example.com:08443/p": "https://example.com:8443",
              "http://[::1]:8080/x": "http://[::1]:8080"}
    endpoint, _ = await add_endpoint(store, "acme", "https://hooks.example/")
    for url in same + list(others):
        ended_jobs(sync_client, url, tenant="acme")
    _, claimed = await store.claim(100, 60, 100)
    found = Counter(dest(c) for c in claimed)
    assert found == Counter({"acme|http://example.com:80": 3,
                             **{f"acme|{o}": 1 for o in others.values()},
                             f"acme|{endpoint.id}": len(same) + len(others)})


async def test_round_robin_takes_one_per_destination_per_turn(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    ended_jobs(sync_client, "https://backlog.example/", 30)  # due first, and many
    ended_jobs(sync_client, "https://b.example/", 3)
    ended_jobs(sync_client, "https://c.example/", 3)
    _, first = await store.claim(6, 60, 100)
    assert Counter(dest(c) for c in first) == Counter(
        {"public|https://backlog.example:443": 2, "public|https://b.example:443": 2,
         "public|https://c.example:443": 2})
    # The ring goes on where it stopped: b and c are not behind the backlog.
    _, second = await store.claim(3, 60, 100)
    assert sorted(dest(c) for c in second) == [
        "public|https://b.example:443", "public|https://backlog.example:443",
        "public|https://c.example:443"]


async def test_a_tenant_with_many_destinations_gets_one_turn_like_another(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    for n in range(20):
        ended_jobs(sync_client, f"https://d{n}.big.example/", 5, tenant="big")
    ended_jobs(sync_client, "https://small.example/", 5, tenant="small")
    _, claimed = await store.claim(10, 60, 100)
    by_tenant = Counter(dest(c).partition("|")[0] for c in claimed)
    assert by_tenant == Counter({"big": 5, "small": 5})
    big = [dest(c) for c in claimed if dest(c).startswith("big|")]
    assert len(set(big)) == 5  # and round robin among the big tenant's own destinations


async def test_cap_per_destination_skips_it_without_blocking_others(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    ended_jobs(sync_client, "https://hangs.example/", 30)
    ended_jobs(sync_client, "https://fine.example/", 2)
    hangs = "public|https://hangs.example:443"
    _, claimed = await store.claim(100, 60, 4)
    assert Counter(dest(c) for c in claimed) == Counter({hangs: 4,
                                                        "public|https://fine.example:443": 2})
    ended_jobs(sync_client, "https://fine.example/", 1)  # new work elsewhere still flows
    _, more = await store.claim(100, 60, 4)
    assert [dest(c) for c in more] == ["public|https://fine.example:443"]
    # One outcome recorded frees exactly one slot.
    await store.complete([succeeded(next(c for c in claimed if dest(c) == hangs))])
    _, again = await store.claim(100, 60, 4)
    assert [dest(c) for c in again] == [hangs]
    assert (await store.claim(100, 60, 4))[1] == []
    assert due_count(sync_client) == 30 - 5


async def test_concurrent_claims_keep_the_cap(
    own_redis: RedisServer, sync_client: redis.Redis,
) -> None:
    """Eight clients claim and complete in a loop: never more than the cap in flight."""
    ended_jobs(sync_client, "https://one.example/", 120)
    clients = [aioredis.Redis.from_url(own_redis.url) for _ in range(8)]
    in_flight: set[str] = set()
    most = 0

    async def work(store: WebhookStore) -> int:
        nonlocal most
        done = 0
        while True:
            _, claimed = await store.claim(5, 60, 3)
            if not claimed:
                if due_count(sync_client) == 0:
                    return done
                await asyncio.sleep(0.001)
                continue
            in_flight.update(c.id for c in claimed)
            most = max(most, len(in_flight))
            await asyncio.sleep(0.002)
            for c in claimed:
                in_flight.discard(c.id)  # before the outcome frees its slot in Redis
            await store.complete([succeeded(c) for c in claimed])
            done += len(claimed)

    try:
        counts = await asyncio.gather(*(work(WebhookStore(c, TEST_BOX)) for c in clients))
    finally:
        for c in clients:
            await c.aclose()
    assert sum(counts) == 120 and sum(1 for n in counts if n) > 1
    assert most == 3


async def test_a_lapsed_lease_frees_its_slot_and_is_due_again(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    ended_jobs(sync_client, "https://a.example/", 5)
    _, first = await store.claim(100, 0.3, 2)
    assert len(first) == 2 and (await store.claim(100, 0.3, 2))[1] == []
    deadline = time.monotonic() + 10
    while not (again := (await store.claim(100, 60, 2))[1]):
        assert time.monotonic() < deadline, "the slots never came back"
        await asyncio.sleep(0.02)
    assert len(again) == 2
    lapsed = {c.id for c in first}
    assert lapsed <= pending_ids(sync_client, list(lapsed)) | {c.id for c in again}
    assert sync_client.zcard(INFLIGHT_KEY) == 2


async def test_deliveries_left_in_the_old_due_set_are_still_sent(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    """As an older version left them: in one due set, without a destination, one of them
    due in a minute; and one in flight under a lease that has run out."""
    jobs = ended_jobs(sync_client, "https://old.example/", 4, tenant="acme")
    ids = [sync_client.lindex(f"{KEY_PREFIX}job-deliveries:{j}", 0).decode()  # type: ignore[union-attr]
           for j in jobs]
    for key in sync_client.scan_iter(match=f"{KEY_PREFIX}dest*"):
        sync_client.delete(key)
    for n, delivery_id in enumerate(ids):
        sync_client.hdel(delivery_key(delivery_id), "destination")
        if n == 3:
            sync_client.zadd(INFLIGHT_KEY, {delivery_id: time.time() - 1})
        else:
            sync_client.zadd(LEGACY_DUE_KEY, {delivery_id: time.time() + (60 if n == 2 else -1)})
    wait, claimed = await store.claim(100, 60, 10)
    assert {c.id for c in claimed} == {ids[0], ids[1], ids[3]}
    assert {dest(c) for c in claimed} == {"acme|https://old.example:443"}
    assert sync_client.zcard(LEGACY_DUE_KEY) == 0
    assert pending_ids(sync_client, [ids[2]]) == {ids[2]}  # waiting at its destination
    assert wait is not None and 50 < wait <= 60
