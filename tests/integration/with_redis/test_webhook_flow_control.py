"""Flow control in the claim and the recording of outcomes, against a real Redis
(tasks/webhooks/breaker.lua, deliveries_claim.lua, deliveries_complete.lua): the circuit
breaker opens, holds its destination's messages without charging them an attempt, lets one
probe out after each cool-down, re-opens for twice as long, closes on a success, and gives
a registered endpoint up through the 410's disable path; what does not count towards it;
an endpoint's and a tenant's per-second rate, also with eight claimers at once."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Callable

import orjson
import redis
import redis.asyncio as aioredis

from tasks.jobs.record import as_text
from tasks.redis.keys import (
    BREAKER_TRANSITIONS_METRIC_KEY,
    DEST_HALF_OPEN_KEY,
    DEST_OPEN_KEY,
    INFLIGHT_KEY,
    delivery_key,
    destination_breaker_key,
    paused_key,
)
from tasks.webhooks.flow import BreakerPolicy, BreakerStateName
from tasks.webhooks.store import ClaimedDelivery, WebhookStore
from tests.support.delivery_schedule import (
    dest,
    ended_jobs,
    failed,
    operational,
    outcome,
    succeeded,
)
from tests.support.servers import RedisServer
from tests.support.webhook_store import TEST_BOX, add_endpoint

POLICY = BreakerPolicy(failures=3, cooldown=0.3, max_cooldown=5.0, disable_after=0)
FLAKY = "public|https://flaky.example:443"
Claimed = list[ClaimedDelivery]


async def claim_when(store: WebhookStore, check: Callable[[Claimed], bool],
                     *args: int) -> Claimed:
    """Claim until a claim passes `check` (within 10 s), returning that claim."""
    async with asyncio.timeout(10):
        while not check(claimed := (await store.claim(*args))[1]):
            assert not claimed, f"claimed {len(claimed)} before the check held"
            await asyncio.sleep(0.01)
    return claimed


def attempts(client: redis.Redis) -> dict[str, int]:
    return {as_text(key): int(client.hget(key, "attempts") or 0)
            for key in client.scan_iter(match=delivery_key("*"))}


def transitions(client: redis.Redis) -> dict[str, int]:
    return {as_text(k): int(v) for k, v in client.hgetall(BREAKER_TRANSITIONS_METRIC_KEY).items()}


async def test_breaker_opens_holds_probes_and_closes(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    jobs = ended_jobs(sync_client, "https://flaky.example/", 10)
    first = (await store.claim(3, 60, 3))[1]
    await store.complete([failed(c) for c in first], breaker=POLICY)

    # Open: nothing is claimed though all ten are due, and no attempt is charged.
    opened = time.time()
    wait, held = await store.claim(100, 60, 3)
    assert held == [] and wait is not None and 0 < wait <= POLICY.cooldown
    assert sum(attempts(sync_client).values()) == 3
    [view] = await store.job_deliveries(jobs[-1])
    assert view.breaker.state is BreakerStateName.OPEN and view.status.value == "PENDING"
    assert view.breaker.consecutive_failures == 3 and view.breaker.next_probe_at is not None
    assert view.breaker.next_probe_at - opened <= POLICY.cooldown + 0.01

    # After the cool-down: one probe, though the cap is 3 and ten are due.
    [probe] = await claim_when(store, bool, 100, 60, 3)
    assert time.time() - opened >= POLICY.cooldown - 0.02
    assert (await store.claim(100, 60, 3))[1] == []
    assert sync_client.zscore(DEST_HALF_OPEN_KEY, FLAKY) is not None
    await store.complete([failed(probe)], breaker=POLICY)

    # The probe failed: open again, for twice as long.
    reopened = time.time()
    next_probe = sync_client.zscore(DEST_OPEN_KEY, FLAKY)
    assert next_probe is not None and 0.5 < next_probe - reopened <= 2 * POLICY.cooldown + 0.01
    [probe] = await claim_when(store, bool, 100, 60, 3)
    assert time.time() - reopened >= 2 * POLICY.cooldown - 0.05
    await store.complete([succeeded(probe)], breaker=POLICY)

    # Closed: the cap is back, the state is gone, every attempt made was charged, no other.
    rest = (await store.claim(100, 60, 3))[1]
    assert len(rest) == 3 and not sync_client.exists(destination_breaker_key(FLAKY))
    assert sum(attempts(sync_client).values()) == 3 + 2
    assert transitions(sync_client) == {"open": 2, "half_open": 2, "closed": 1}


async def test_what_counts_towards_opening(store: WebhookStore, sync_client: redis.Redis) -> None:
    """Only failures in a row: a 429 or a 404 neither counts nor resets; a success resets."""
    ended_jobs(sync_client, "https://flaky.example/", 20)

    async def one(make: Callable[[ClaimedDelivery], object]) -> None:
        [claimed] = (await store.claim(1, 60, 3))[1]
        await store.complete([make(claimed)], breaker=POLICY)  # type: ignore[list-item]

    def neutral(status: int) -> Callable[[ClaimedDelivery], object]:
        return lambda c: outcome(c, "retry", status, "client_error", "")

    for make in (failed, neutral(429), failed, neutral(404), succeeded, failed, failed,
                 neutral(429)):
        await one(make)
    assert sync_client.hget(destination_breaker_key(FLAKY), "failures") == b"2"
    assert not sync_client.zcard(DEST_OPEN_KEY)
    await one(failed)
    assert sync_client.zscore(DEST_OPEN_KEY, FLAKY) is not None


async def test_a_success_of_an_earlier_attempt_closes_it(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    ended_jobs(sync_client, "https://flaky.example/", 6)
    claimed = (await store.claim(4, 60, 4))[1]
    await store.complete([failed(c) for c in claimed[:3]], breaker=POLICY)
    assert sync_client.zscore(DEST_OPEN_KEY, FLAKY) is not None
    await store.complete([succeeded(claimed[3])], breaker=POLICY)  # sent before it opened
    assert not sync_client.zcard(DEST_OPEN_KEY)
    assert len((await store.claim(100, 60, 10))[1]) == 5  # 3 retried, 2 never tried


async def test_giving_up_disables_the_endpoint_as_a_410_does(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    policy = BreakerPolicy(failures=1, cooldown=0.1, max_cooldown=0.2, disable_after=0.25)
    endpoint, _ = await add_endpoint(store, "public", "https://down.example/")
    ended_jobs(sync_client, None, 4)
    [first] = (await store.claim(1, 60, 1))[1]
    await store.complete([failed(first)], breaker=policy)
    while True:  # probes fail until the breaker has been open for disable_after
        [probe] = await claim_when(store, bool, 100, 60, 1)
        await store.complete([failed(probe)], breaker=policy)
        current = await store.get_endpoint(endpoint.id, "public")
        assert current is not None
        if not current.enabled:
            break
    assert current.disabled_reason == "failing for 0 s: the circuit breaker gave up"
    assert current.breaker.state is BreakerStateName.CLOSED
    assert transitions(sync_client)["gave_up"] == 1
    # The claim holds the rest as it does after a 410: no attempt, all kept for enable.
    assert (await store.claim(100, 60, 1))[1] == []
    assert sync_client.zcard(paused_key(endpoint.id)) == 4
    assert await store.enable_endpoint(endpoint.id) == 4
    assert len((await store.claim(100, 60, 1))[1]) == 1


async def test_giving_up_tells_the_subscribers_as_a_410_does(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    """The breaker gives up through operational.lua's disable_endpoint, the one place an
    endpoint is disabled: one `endpoint.disabled` to the tenant's subscriber."""
    policy = BreakerPolicy(failures=1, cooldown=0.05, max_cooldown=0.1, disable_after=0.15)
    down, _ = await add_endpoint(store, "public", "https://down.example/", ("job.succeeded",))
    ops, _ = await add_endpoint(store, "public", "https://ops.example/", ("endpoint.disabled",))
    ended_jobs(sync_client, None, 2)
    [first] = (await store.claim(1, 60, 1))[1]
    await store.complete([failed(first)], breaker=policy)
    while not operational(sync_client, "endpoint.disabled"):
        [probe] = await claim_when(store, bool, 100, 60, 1)
        assert probe.fields["endpoint_id"] == down.id
        await store.complete([failed(probe)], breaker=policy)
    [event] = operational(sync_client, "endpoint.disabled")
    data = orjson.loads(event["data"])
    assert event["endpoint_id"] == ops.id
    assert (data["endpoint_id"], data["reason"]) == (
        down.id, "failing for 0 s: the circuit breaker gave up")
    current = await store.get_endpoint(down.id, "public")
    assert current is not None and not current.enabled
    assert [c.id for c in (await store.claim(100, 60, 1))[1]] == [event["id"]]


async def test_a_callback_destination_is_never_given_up(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    policy = BreakerPolicy(failures=1, cooldown=0.05, max_cooldown=0.1, disable_after=0.1)
    [job] = ended_jobs(sync_client, "https://flaky.example/")
    [claimed] = (await store.claim(1, 60, 1))[1]
    await store.complete([failed(claimed)], breaker=policy)
    for _ in range(3):
        [probe] = await claim_when(store, bool, 100, 60, 1)
        await store.complete([failed(probe)], breaker=policy)
    [view] = await store.job_deliveries(job)
    assert view.breaker.state is BreakerStateName.OPEN and view.status.value == "PENDING"
    assert view.attempt_count == 4


async def test_deleting_an_open_endpoint_dead_letters_its_messages_at_once(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    endpoint, _ = await add_endpoint(store, "public", "https://down.example/")
    ended_jobs(sync_client, None, 5)
    claimed = (await store.claim(3, 60, 3))[1]
    await store.complete([failed(c) for c in claimed], breaker=POLICY)
    assert sync_client.zscore(DEST_OPEN_KEY, endpoint.destination) is not None
    assert await store.delete_endpoint("public", endpoint.id)
    assert (await store.claim(100, 60, 3))[1] == []
    statuses = {sync_client.hget(k, "status") for k in sync_client.scan_iter(delivery_key("*"))}
    assert statuses == {b"DEAD_LETTERED"} and not sync_client.zcard(DEST_OPEN_KEY)


def claim_second(client: redis.Redis, claimed: ClaimedDelivery, lease: float) -> int:
    """The second of Redis' clock the claim happened in (its lease deadline less the lease)."""
    deadline = client.zscore(INFLIGHT_KEY, claimed.id)
    assert deadline is not None
    return math.floor(round(deadline - lease, 6))


async def test_an_endpoint_rate_limit_spares_other_destinations(
    store: WebhookStore, sync_client: redis.Redis,
) -> None:
    limited, _ = await add_endpoint(store, "public", "https://slow.example/", rate_limit=3)
    ended_jobs(sync_client, "https://other.example/", 8)  # each to the endpoint and back
    first = (await store.claim(100, 60, 100))[1]
    assert Counter(dest(c) for c in first)["public|https://other.example:443"] == 8
    per_second = Counter(claim_second(sync_client, c, 60) for c in first
                         if dest(c) == limited.destination)
    while sum(per_second.values()) < 8:
        wait, more = await store.claim(100, 60, 100)
        per_second.update(claim_second(sync_client, c, 60) for c in more)
        if not more:  # waiting for its next second, which the claim says
            assert wait is not None and wait <= 1.0
            await asyncio.sleep(wait)
    assert max(per_second.values()) == 3 and len(per_second) >= 3

    assert await store.set_rate_limit(limited.id, None)  # cleared: no limit of its own
    ended_jobs(sync_client, None, 6)
    assert len((await store.claim(100, 60, 100))[1]) == 6


async def test_a_tenant_limit_keeps_each_tenant_to_its_rate_over_eight_claimers(
    own_redis: RedisServer, sync_client: redis.Redis,
) -> None:
    for n in range(4):
        ended_jobs(sync_client, f"https://d{n}.big.example/", 15, tenant="big")
    ended_jobs(sync_client, "https://small.example/", 5, tenant="small")
    clients = [aioredis.Redis.from_url(own_redis.url) for _ in range(8)]
    seen: list[tuple[str, int]] = []
    in_flight: Counter[str] = Counter()
    most: Counter[str] = Counter()

    async def work(store: WebhookStore) -> None:
        while len(seen) < 65:
            claimed = (await store.claim(5, 60, 3, 20))[1]
            for c in claimed:
                seen.append((dest(c), claim_second(sync_client, c, 60)))
                in_flight[dest(c)] += 1
                most[dest(c)] = max(most[dest(c)], in_flight[dest(c)])
            await asyncio.sleep(0.005)
            for c in claimed:
                in_flight[dest(c)] -= 1
            await store.complete([succeeded(c) for c in claimed])

    try:
        await asyncio.wait_for(
            asyncio.gather(*(work(WebhookStore(c, TEST_BOX)) for c in clients)), 30)
    finally:
        for c in clients:
            await c.aclose()
    per_tenant_second = Counter((d.partition("|")[0], s) for d, s in seen)
    assert max(n for (tenant, _), n in per_tenant_second.items() if tenant == "big") == 20
    small = [s for d, s in seen if d.startswith("small|")]
    assert len(small) == 5 and max(small) - min(small) <= 1  # not held behind "big"
    assert max(most.values()) <= 3  # and the cap per destination still holds
