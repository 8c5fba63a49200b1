"""Progress from inside a job, end to end: a real Redis, Celery worker, gateway, webhook
dispatcher and receiver. A 50,000,000 sum's progress on the record and over GraphQL's
jobUpdated, job.progress webhooks, bad reports, and a threads pool."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby
from typing import Any

import httpx
import pytest
import standardwebhooks

from tasks.redis.keys import job_key
from tests.support.graphql_helpers import SUBMIT_SUM, follow, request, ws_client
from tests.support.helpers import (
    TERMINAL,
    fresh_path,
    registered_endpoints,
    submit_sum,
    submit_wait,
    wait_for_status,
)
from tests.support.launcher import Launcher, Stack
from tests.support.servers import FIXTURE_FUNCTIONS
from tests.support.webhook_receiver import Receiver

API = "/producer/api"
BIG = 50_000_000  # SUM_MAX_NUMBER: about 3 s of the loop, 50 progress calls
INTERVAL_S = 0.1  # PROGRESS_INTERVAL_MS, the default


@dataclass
class Servers:
    stack: Stack
    receiver: Receiver


@pytest.fixture(scope="module")
def servers(module_launch: Launcher) -> Servers:
    stack = module_launch.stack(
        "progress-worker", dispatcher=True, WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
        WEBHOOK_PROGRESS_INTERVAL_SECONDS="0.2",
        EXTRA_FUNCTION_MODULES=f'["{FIXTURE_FUNCTIONS}"]')
    return Servers(stack, module_launch.receiver())


@pytest.fixture()
def client(servers: Servers) -> Iterator[httpx.Client]:
    with servers.stack.client() as c:
        yield c


def done_values(records: list[dict[str, Any]]) -> list[float]:
    """The distinct progress values of STARTED states, in the order seen."""
    values = [r["progress"]["done"] for r in records
              if r["status"] == "STARTED" and r["progress"]]
    return [v for v, _ in groupby(values)]


async def poll_record(base_url: str, job_id: str) -> list[dict[str, Any]]:
    """Every state GET /jobs/{id} shows, polled every 20 ms until the job ends."""
    seen: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        while not seen or seen[-1]["status"] not in TERMINAL:
            seen.append((await http.get(f"{API}/jobs/{job_id}")).json())
            await asyncio.sleep(0.02)  # the polling pace
    return seen


async def test_a_big_sum_reports_progress_on_the_record_and_over_job_updated(
        servers: Servers) -> None:
    gateway = servers.stack.gateway
    async with ws_client(gateway) as session:
        submitted = await session.execute(request(SUBMIT_SUM, n=BIG))
        job_id = submitted["submitSum"]["id"]
        events, polled = await asyncio.gather(follow(session, job_id),
                                              poll_record(gateway.url, job_id))

    # jobUpdated: progress events between STARTED and the end, and it still completes.
    statuses = [s for s, _ in groupby(e["status"] for e in events)]
    assert statuses[-2:] == ["STARTED", "SUCCEEDED"] and statuses[0] in ("QUEUED", "STARTED")
    pushed = done_values(events)
    assert len(pushed) >= 5 and pushed == sorted(pushed), pushed
    assert all(e["progress"]["total"] == BIG for e in events if e["progress"])
    last = events[-1]
    assert last["result"] == BIG * (BIG + 1) // 2  # the same result as without progress
    assert last["progress"]["done"] == BIG and last["progress"]["fraction"] == 1.0
    middle = next(e["progress"] for e in events if e["progress"])
    assert 0 < middle["fraction"] < 1 and middle["updatedAt"] and middle["message"] is None

    # The record: the same reports, polled over REST.
    seen = done_values(polled)
    assert len(seen) >= 5 and seen == sorted(seen), seen
    final = polled[-1]
    assert final["progress"]["done"] == final["progress"]["total"] == BIG
    assert final["progress"]["fraction"] == 1.0
    record = servers.stack.redis.client().hgetall(job_key(job_id))
    # At most one write per interval from the job's start, and the final one.
    duration = float(record[b"finished_at"]) - float(record[b"started_at"])
    assert int(record[b"progress_seq"]) <= duration / INTERVAL_S + 1


def test_job_progress_webhooks_arrive_signed_at_an_endpoint_that_named_them(
        servers: Servers, client: httpx.Client) -> None:
    receiver, hook, callback = servers.receiver, fresh_path(), fresh_path()
    with registered_endpoints(client) as register:
        secret = register(receiver.url(hook), events=["job.progress"])["secret"]
        r = client.post(f"{API}/wait_and_return",
                        json={"seconds": 1.5, "callback_url": receiver.url(callback)})
        job_id = r.json()["job_id"]
        assert wait_for_status(client, job_id)["status"] == "SUCCEEDED"
        made = client.get(f"{API}/jobs/{job_id}/deliveries").json()
        progress = [d for d in made if d["event"] == "job.progress"]
        assert len(progress) >= 2 and {d["url"] for d in progress} == {receiver.url(hook)}
        arrived = receiver.wait_count(hook, len(progress))
    bodies = [standardwebhooks.Webhook(secret).verify(a.body, a.headers) for a in arrived]
    assert {a.webhook_id for a in arrived} == {d["id"] for d in progress}
    assert all(b["type"] == "job.progress" and b["data"]["id"] == job_id
               and b["data"]["status"] == "STARTED" for b in bodies)
    dones = sorted(b["data"]["progress"]["done"] for b in bodies)
    assert dones[-1] == 1.5 and dones[0] < 1.5  # the final report, and an earlier one
    # The job's own callback hears of its end only; the endpoint named progress only.
    [end] = receiver.wait_count(callback, 1)
    assert end.body.startswith(b'{"type":"job.succeeded"')
    assert {d["event"] for d in made} == {"job.progress", "job.succeeded"}
    assert [d["endpoint_id"] for d in made if d["event"] == "job.succeeded"] == [None]


@pytest.mark.parametrize(("done", "total", "says"), [
    (2, 1, "progress(done, total): done (2.0) is more than total (1.0)"),
    (-1, 5, "progress(done, total): done must be from 0 to 2**53, not -1.0"),
    (1, 2**60, "progress(done, total): total must be from 0 to 2**53"),
])
def test_a_report_progress_refuses_fails_the_job_with_its_reason(
        client: httpx.Client, done: float, total: float, says: str) -> None:
    r = client.post(f"{API}/jobs", json={"function": "reports",
                                         "input": {"done": done, "total": total}})
    assert r.status_code == 202, r.text
    record = wait_for_status(client, r.json()["id"])
    assert record["status"] == "FAILED" and record["progress"] is None
    assert record["error"]["type"] == "ValueError"
    assert record["error"]["message"].startswith(says)


def test_a_short_job_writes_no_progress(client: httpx.Client) -> None:
    """A job that ends within one interval reports nothing: its end is its news."""
    job_id = submit_sum(client, 1000)
    record = wait_for_status(client, job_id)
    assert record["result"] == 500500 and record["progress"] is None


def test_each_thread_of_a_threads_pool_reports_its_own_job(launch: Launcher) -> None:
    stack = launch.stack(worker=None, PROGRESS_INTERVAL_MS="20")
    launch.worker(stack.env, "progress-threads", options=("--pool=threads",))
    with stack.client() as client:
        numbers = {submit_sum(client, n): n for n in (8_000_000, 6_000_000)}
        waiting = submit_wait(client, 1)
        records = {job_id: wait_for_status(client, job_id) for job_id in [*numbers, waiting]}
    for job_id, n in numbers.items():
        record = records[job_id]
        assert record["result"] == n * (n + 1) // 2
        assert record["progress"]["done"] == record["progress"]["total"] == n
    assert records[waiting]["progress"]["done"] == records[waiting]["progress"]["total"] == 1
