"""Isolation by destination end to end (issue 14, part 1): a real Redis, Celery worker,
gateway and two webhook dispatchers, and two receivers on loopback, one of which hangs
longer than the request timeout.

With 300 deliveries queued for the hanging receiver, 100 jobs with callbacks to the
healthy one all arrive within 2 s (p99) of each job's end; the two dispatchers together
never hold more than the per-destination cap of requests open at the hanging receiver;
once it answers again every one of its messages arrives, each answered once.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from bench.stats import percentile
from tasks.jobs.record import JobStatus, new_record_fields
from tasks.jobs.store import JobStore
from tasks.redis.keys import job_key
from tests.support.counting_receiver import CountingReceiver
from tests.support.delivery_schedule import pending_ids
from tests.support.fault_helpers import delivery_fields, job_delivery_ids, job_fields
from tests.support.servers import (
    Gateway,
    RedisServer,
    Service,
    stack_env,
    start_dispatcher,
    start_worker,
    wait_until,
)

API = "/producer/api"
CAP = 5  # per destination, over both dispatchers
BACKLOG = 300  # deliveries queued for the hanging receiver
HEALTHY_JOBS = 100
SUBMIT_RATE = 50.0  # healthy jobs per second


@dataclass
class Stack:
    redis: RedisServer
    gateway: Gateway
    dispatchers: list[Service]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    redis_server = RedisServer().start()
    env = stack_env(
        redis_server.url, WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
        WEBHOOK_TIMEOUT_SECONDS="1", WEBHOOK_CONNECT_TIMEOUT_SECONDS="1",
        WEBHOOK_RETRY_SCHEDULE=",".join(["0", "0.2", "0.5"] + ["1"] * 40),
        WEBHOOK_MAX_IN_FLIGHT="20", WEBHOOK_MAX_IN_FLIGHT_PER_DESTINATION=str(CAP))
    services: list[Service] = []
    try:
        services.append(start_worker(env, name="isolation-worker"))
        gateway = Gateway(env).start()
        services.append(gateway)
        dispatchers = [start_dispatcher(env, name=f"isolation-dispatcher-{n}") for n in (1, 2)]
        services += dispatchers
        yield Stack(redis_server, gateway, dispatchers)
    finally:
        for service in reversed(services):
            service.stop()
        redis_server.stop()


def queue_deliveries(stack: Stack, url: str, count: int) -> list[str]:
    """Jobs ended by the real terminal transition, which creates their deliveries."""
    client = stack.redis.client()
    ids = [str(uuid.uuid4()) for _ in range(count)]
    with client.pipeline() as pipe:
        for job_id in ids:
            pipe.hset(job_key(job_id), mapping=new_record_fields(
                job_id, "sum_to_n_job", b'{"number": 1}', time.time(), url))
            pipe.expire(job_key(job_id), 3600)
        pipe.execute()
    jobs = JobStore(client)
    for job_id in ids:
        jobs.transition(job_id, JobStatus.SUCCEEDED, {"result": b"1"})
    return ids


def test_a_hanging_destination_delays_no_other_and_keeps_its_cap(stack: Stack) -> None:
    hanging = CountingReceiver().start()
    healthy = CountingReceiver().start()
    client = stack.redis.client()
    try:
        hanging.hold()
        backlog_jobs = queue_deliveries(stack, hanging.url(), BACKLOG)
        hanging.wait_in_flight(CAP)  # the backlog is being tried, and hangs

        # Done when 1: the healthy receiver's webhooks arrive while the other hangs.
        submitted: list[str] = []
        with httpx.Client(base_url=stack.gateway.url, timeout=10) as http:
            start = time.monotonic()
            for n in range(HEALTHY_JOBS):
                time.sleep(max(0.0, start + n / SUBMIT_RATE - time.monotonic()))  # pacing
                r = http.post(f"{API}/sum", json={"number": 10, "callback_url": healthy.url()})
                assert r.status_code == 200, r.text
                submitted.append(r.json()["job_id"])
        wait_until(lambda: {a.job_id for a in healthy.snapshot()} >= set(submitted), 60,
                   "every healthy job's webhook", interval=0.05)
        arrived = {a.job_id: a.at for a in healthy.snapshot()}
        finished = job_fields(client, submitted, "finished_at")
        lags = [arrived[j] - float(finished[j][0]) for j in submitted]
        assert percentile(lags, 99) < 2.0, sorted(lags)[-5:]
        assert pending_ids(client, [d for ids in job_delivery_ids(client, backlog_jobs).values()
                                    for d in ids]), "the hanging backlog was not still waiting"

        # Done when 2: released, every backlog message arrives, each answered once.
        hanging.release()
        backlog = [ids[0] for ids in job_delivery_ids(client, backlog_jobs).values()]
        wait_until(lambda: set(hanging.answered) >= set(backlog), 90,
                   "every backlog message answered", interval=0.1)
        wait_until(lambda: not pending_ids(client, backlog), 30, "the backlog to settle")
        fields = delivery_fields(client, backlog, "status", "attempts")
        tries = Counter(a.webhook_id for a in hanging.snapshot())
        assert set(hanging.answered.values()) == {1}
        assert {status for status, _ in fields.values()} == {"SUCCEEDED"}
        assert all(int(fields[d][1]) == tries[d] for d in backlog)  # no attempt unrecorded
        assert max(tries.values()) > 1  # the backlog really timed out while held
    finally:
        hanging.stop()
        healthy.stop()
    # Two dispatchers together never held more than the cap open at one destination.
    assert hanging.max_in_flight == CAP, hanging.max_in_flight
    for dispatcher in stack.dispatchers:
        dispatcher.stop()
        attempts = re.findall(r"stopped after (\d+) attempts", dispatcher.log_tail())
        assert attempts and int(attempts[-1]) > 0, "each dispatcher took part"
