"""Flow control end to end (issue 14, parts 2, 3 and 6's tenant rate): a real Redis, the
gateway, a webhook dispatcher and real receivers on loopback; deliveries made by the real
terminal transition.

The breaker opens after 3 failures, holds its destination's messages without charging them
an attempt, probes after each cool-down (0.5 s, then 1 s) and closes, with its state in
GET /webhooks/{id} and /metrics; a rate-limited endpoint never gets more than its rate in
any second while another endpoint is unaffected; 429s with Retry-After are honoured and do
not open the breaker; a tenant over its rate leaves another tenant's deliveries alone.
"""

from __future__ import annotations

import itertools
import math
import re
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tasks.redis.keys import delivery_key, destination_breaker_key
from tests.support.counting_receiver import CountingReceiver
from tests.support.delivery_schedule import ended_jobs
from tests.support.fault_helpers import delivery_fields, job_delivery_ids
from tests.support.helpers import registered_endpoints
from tests.support.launcher import Launcher, Stack
from tests.support.servers import wait_until
from tests.support.webhook_receiver import Receiver, Reply

API = "/producer/api"
METRICS_AUTH = ("ops", "flow-control-test")
COOLDOWN = 0.5


@pytest.fixture(scope="module")
def stack(module_launch: Launcher) -> Stack:
    return module_launch.stack(
        worker=None, dispatcher={
            "WEBHOOK_BREAKER_FAILURES": "3",
            "WEBHOOK_BREAKER_COOLDOWN_SECONDS": str(COOLDOWN),
            "WEBHOOK_RETRY_SCHEDULE": ",".join(["0"] + ["0.05"] * 30),
            "WEBHOOK_MAX_IN_FLIGHT_PER_DESTINATION": "1",  # one at a time: a known order
        },
        WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8", FLOWER_BASIC_AUTH=":".join(METRICS_AUTH))


@pytest.fixture()
def client(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client() as c:
        yield c


@pytest.fixture()
def register(client: httpx.Client) -> Iterator[Any]:
    """Registers endpoints for one test, deleted after it."""
    with registered_endpoints(client) as make:
        yield make


def end_jobs(stack: Stack, count: int, callback: str | None = None,
             tenant: str = "public") -> list[str]:
    return ended_jobs(stack.redis.client(), callback, count, tenant)


def at_a_second_start() -> None:
    """Pacing, not waiting for an event: start just after a second of the clock turns, so
    that the first rate window is a whole one."""
    time.sleep(math.ceil(time.time()) - time.time() + 0.02)


def metric(client: httpx.Client, name: str, **labels: str) -> float:
    text = client.get("/metrics", auth=METRICS_AUTH).text
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    found = re.search(rf"^{name}{{{re.escape(selector)}}} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_breaker_opens_probes_and_closes_without_charging_attempts(
    stack: Stack, client: httpx.Client, register: Any,
) -> None:
    receiver = stack.launcher.receiver()
    receiver.script("/flaky", Reply(500), Reply(500), Reply(500), Reply(500))  # then 200s
    endpoint = register(receiver.url("/flaky"))
    view = f"{API}/webhooks/{endpoint['id']}"
    jobs = end_jobs(stack, 8)
    ids = [ids[0] for ids in job_delivery_ids(stack.redis.client(), jobs).values()]

    # Three failures in a row open it: the other five are due, and neither sent nor charged
    # (read in one transaction with the breaker's state, so while it is open).
    wait_until(lambda: client.get(view).json()["breaker"]["state"] == "open", 10,
               "the breaker to open", interval=0.02)
    with stack.redis.client().pipeline(transaction=True) as pipe:
        pipe.hget(destination_breaker_key(f"public|{endpoint['id']}"), "state")
        for delivery_id in ids:
            pipe.hmget(delivery_key(delivery_id), ["status", "attempts"])
        state, *held = pipe.execute()
    assert state == b"open"
    assert held == [[b"PENDING", b"1"]] * 3 + [[b"PENDING", b"0"]] * 5, held
    breaker = client.get(view).json()["breaker"]
    assert breaker["consecutive_failures"] == 3 and breaker["opened_at"] is not None
    assert breaker["next_probe_at"] is not None or breaker["state"] != "open"
    assert metric(client, "gateway_webhook_breaker_destinations", state="open") + metric(
        client, "gateway_webhook_breaker_destinations", state="half_open") == 1

    # A failed probe after the cool-down, a good one after twice that: then all flow.
    def statuses() -> set[str]:
        return {s for [s] in delivery_fields(stack.redis.client(), ids, "status").values()}

    wait_until(lambda: statuses() == {"SUCCEEDED"}, 30, "every message delivered")
    assert client.get(view).json()["breaker"]["state"] == "closed"
    requests = receiver.received("/flaky")
    gaps = [b.at - a.at for a, b in itertools.pairwise(requests)]
    assert gaps[2] >= COOLDOWN and gaps[3] >= 2 * COOLDOWN, gaps[:5]
    deliveries = delivery_fields(stack.redis.client(), ids, "status", "attempts")
    tries = Counter(r.webhook_id for r in requests)
    assert {d: int(n) for d, (_, n) in deliveries.items()} == dict(tries)
    assert len(requests) == 12 and max(tries.values()) == 2  # 4 failures, each charged once
    assert client.get(view).json()["breaker"]["consecutive_failures"] == 0
    counts = {to: metric(client, "gateway_webhook_breaker_transitions_total", to=to)
              for to in ("open", "half_open", "closed")}
    assert counts == {"open": 2, "half_open": 2, "closed": 1}


def test_a_rate_limited_endpoint_never_gets_more_than_its_rate(
    stack: Stack, register: Any,
) -> None:
    limited, free = CountingReceiver().start(), CountingReceiver().start()
    try:
        register(limited.url(), rate_limit=3)
        register(free.url())
        at_a_second_start()
        end_jobs(stack, 12)
        wait_until(lambda: len(limited.snapshot()) >= 12, 30, "every limited delivery")
        per_second = Counter(math.floor(a.at) for a in limited.snapshot())
        assert max(per_second.values()) <= 3, per_second
        arrived = sorted(a.at for a in limited.snapshot())
        assert arrived[-1] - arrived[0] >= 2.0
        unlimited = sorted(a.at for a in free.snapshot())
        assert len(unlimited) == 12 and unlimited[-1] - unlimited[0] < 1.5, unlimited
    finally:
        limited.stop()
        free.stop()


def test_retry_after_is_honoured_and_429s_do_not_open_the_breaker(
    stack: Stack, client: httpx.Client, register: Any,
) -> None:
    receiver: Receiver = stack.launcher.receiver()
    slow_down = Reply(429, headers={"Retry-After": "1"})
    receiver.script("/busy", slow_down, slow_down, slow_down)  # as many as open it, if counted
    endpoint = register(receiver.url("/busy"), rate_limit=5)
    [job] = end_jobs(stack, 1)
    requests = receiver.wait_count("/busy", 4, timeout=30)
    assert all(b.at - a.at >= 0.95 for a, b in itertools.pairwise(requests))
    [delivery] = client.get(f"{API}/jobs/{job}/deliveries").json()
    wait_until(lambda: client.get(f"{API}/deliveries/{delivery['id']}").json()["status"]
               == "SUCCEEDED", 10, "the delivery to succeed")
    done = client.get(f"{API}/deliveries/{delivery['id']}").json()
    assert [a["status_code"] for a in done["attempts"]] == [429, 429, 429, 200]
    assert done["breaker"]["state"] == "closed"
    assert done["destination"] == f"public|{endpoint['id']}"
    shown = client.get(f"{API}/webhooks/{endpoint['id']}").json()
    assert shown["breaker"]["state"] == "closed" and shown["rate_limit"] == 5


def test_a_tenant_over_its_rate_leaves_another_tenant_alone(stack: Stack) -> None:
    stack.replace_dispatcher("tenant-limited-dispatcher", WEBHOOK_TENANT_MAX_PER_SECOND="4")
    first, second, other = (CountingReceiver().start() for _ in range(3))
    try:
        at_a_second_start()
        busy = set(end_jobs(stack, 6, first.url(), tenant="busy")
                   + end_jobs(stack, 6, second.url(), tenant="busy"))
        quiet = set(end_jobs(stack, 4, other.url(), tenant="quiet"))
        wait_until(lambda: len(first.snapshot()) + len(second.snapshot()) >= 12, 30,
                   "every busy tenant's delivery")
        busy_arrivals = [a for r in (first, second) for a in r.snapshot()]
        assert {a.job_id for a in busy_arrivals} == busy
        per_second = Counter(math.floor(a.at) for a in busy_arrivals)
        assert max(per_second.values()) <= 4 and len(per_second) >= 3, per_second
        wait_until(lambda: len(other.snapshot()) >= 4, 10, "the quiet tenant's deliveries")
        quiet_arrivals = other.snapshot()
        assert {a.job_id for a in quiet_arrivals} == quiet
        assert max(a.at for a in quiet_arrivals) - min(a.at for a in busy_arrivals) < 1.0
    finally:
        for receiver in (first, second, other):
            receiver.stop()
        stack.replace_dispatcher()
