"""jobUpdated over a real WebSocket (gql, graphql-transport-ws, knowing only the schema
file), fed by Redis pub/sub as the real worker moves the job."""

from __future__ import annotations

import asyncio
import json
import time
from itertools import groupby
from typing import Any

import httpx
import pytest
import redis
from gql.transport.exceptions import TransportQueryError
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tasks.jobs.record import JobStatus, error_json
from tasks.jobs.store import (
    TRANSITION_LUA,
    JobStore,
    event_channel,
    job_key,
    timestamp_fields,
    transition_args,
)
from tests.support.graphql_helpers import (
    CANCEL,
    GET_JOB,
    SUBMIT_SUM,
    SUBMIT_WAIT,
    data,
    follow,
    request,
    submit_sum,
    submit_wait,
    ws_client,
)
from tests.support.helpers import wait_for_status
from tests.support.launcher import Launcher, Stack
from tests.support.servers import Gateway, RedisServer


@pytest.fixture(scope="module")
def idle(module_launch: Launcher) -> Stack:
    """Redis and a gateway with no worker: a test starts one (with `launch`) when its
    jobs should run."""
    return module_launch.stack(worker=None)


def queued_job(idle: Stack, number: int) -> str:
    """A sum job that stays QUEUED: no worker runs on `idle` unless a test starts one."""
    with idle.client() as client:
        return submit_sum(client, number)


def subscribers(redis_server: RedisServer, job_id: str) -> int:
    channel = event_channel(job_id)
    counts = dict(redis_server.client().pubsub_numsub(channel))
    return int(counts[channel.encode()])


async def wait_for(check: Any, what: str, within: float = 30) -> None:
    for _ in range(int(within / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"timed out after {within} s waiting for {what}")


async def test_two_subscribers_see_queued_started_progress_succeeded_exactly(
    idle: Stack, launch: Launcher,
) -> None:
    redis_server, gateway, env = idle.redis, idle.gateway, idle.env
    async with ws_client(gateway) as first, ws_client(gateway) as second:
        # The mutation over the same WebSocket; 50,000,000 sums past 2^50.
        submitted = await first.execute(request(SUBMIT_SUM, n=50_000_000))
        job_id = submitted["submitSum"]["id"]
        seen: list[list[dict[str, Any]]] = [[], []]
        followers = [asyncio.create_task(follow(session, job_id, seen[i].append))
                     for i, session in enumerate((first, second))]
        await wait_for(lambda: all(seen), "both subscribers got the current state")
        # Two subscribers, one Redis subscription: the gateway shares one connection.
        assert subscribers(redis_server, job_id) == 1
        launch.worker(env, "subscription-worker")
        results = await asyncio.gather(*followers)
    assert results[0] == results[1]  # the same states, in the same order
    for events in results:
        # Each status once, in order; while STARTED, each progress report once, in order.
        assert [s for s, _ in groupby(e["status"] for e in events)] == [
            "QUEUED", "STARTED", "SUCCEEDED"]
        queued, started, succeeded = events[0], events[1], events[-1]
        reports = [e["progress"]["done"] for e in events[2:-1]]
        assert reports == sorted(set(reports)) and len(reports) == len(events) - 3
        assert queued["attempts"] == 0 and started["attempts"] == 1
        assert started["startedAt"] and succeeded["finishedAt"]
        assert succeeded["result"] == 1250000025000000
        assert isinstance(succeeded["result"], int)
    await wait_for(lambda: subscribers(redis_server, job_id) == 0, "unsubscribed at the end")


async def test_many_subscriptions_share_one_redis_connection(
    idle: Stack, launch: Launcher,
) -> None:
    redis_server, gateway, env = idle.redis, idle.gateway, idle.env
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        job_ids = [submit_sum(client, n) for n in (1, 2, 3)]
    async with ws_client(gateway) as session:  # three subscriptions, one WebSocket
        seen: dict[str, list[dict[str, Any]]] = {job_id: [] for job_id in job_ids}
        followers = [asyncio.create_task(follow(session, job_id, seen[job_id].append))
                     for job_id in job_ids]
        await wait_for(lambda: all(seen.values()), "every current state")
        # No worker here, so the gateway's hub is this Redis' only pub/sub client.
        [hub] = redis_server.client().client_list(_type="pubsub")
        assert int(hub["sub"]) == 3 + 1  # the three jobs and the hub's idle anchor channel
        launch.worker(env, "subscription-worker-2")
        results = await asyncio.gather(*followers)
    assert [events[-1]["result"] for events in results] == [1, 3, 6]
    assert all([e["status"] for e in events] == ["QUEUED", "STARTED", "SUCCEEDED"]
               for events in results)


async def test_a_subscriber_that_leaves_is_unsubscribed(idle: Stack) -> None:
    redis_server, gateway = idle.redis, idle.gateway
    job_id = queued_job(idle, 1)
    seen: list[dict[str, Any]] = []
    async with ws_client(gateway) as session:
        following = asyncio.create_task(follow(session, job_id, seen.append))
        await wait_for(lambda: bool(seen), "the current state")
        assert subscribers(redis_server, job_id) == 1
        following.cancel()  # the client stops listening (gql sends "complete")
    await wait_for(lambda: subscribers(redis_server, job_id) == 0, "unsubscribed")


async def test_a_lost_pubsub_connection_is_recovered_without_losing_events(idle: Stack
                                                                           ) -> None:
    redis_server, gateway = idle.redis, idle.gateway
    job_id = queued_job(idle, 2)
    seen: list[dict[str, Any]] = []
    async with ws_client(gateway) as session:
        following = asyncio.create_task(follow(session, job_id, seen.append))
        await wait_for(lambda: bool(seen), "the current state")
        r = redis_server.client()
        transition = r.register_script(TRANSITION_LUA)
        # One transaction drops the gateway's pub/sub connection and cancels the job, so
        # the CANCELLED event is published while no gateway listens: only the hub's
        # reconnect-and-re-read can deliver it.
        with r.pipeline(transaction=True) as pipe:
            pipe.client_kill_filter(_type="pubsub")
            transition(keys=[job_key(job_id), event_channel(job_id)],
                       args=transition_args(JobStatus.CANCELLED,
                                            timestamp_fields(JobStatus.CANCELLED), False),
                       client=pipe)
            pipe.execute()
        events = await following
    assert [e["status"] for e in events] == ["QUEUED", "CANCELLED"]


async def test_oversize_websocket_message_closes_the_socket(gateway: Gateway) -> None:
    url = gateway.url.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        padding = " " * 70_000  # MAX_BODY_BYTES is 65536
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
            "query": "{ functions { name } }" + padding}}))
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_started_then_cancelled(gateway: Gateway, client: httpx.Client) -> None:
    job_id = submit_wait(client, 30)

    async def cancel_once_started(event: dict[str, Any]) -> None:
        if event["status"] == "STARTED":
            async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as http:
                r = await http.post("/graphql", json={"query": CANCEL,
                                                      "variables": {"id": job_id}})
                assert r.json()["data"]["cancelJob"]["status"] == "CANCELLED"

    async with ws_client(gateway) as session:
        events = await follow(session, job_id, cancel_once_started)
    statuses = [e["status"] for e in events]
    assert statuses[-2:] == ["STARTED", "CANCELLED"], statuses
    assert events[-1]["finishedAt"] and events[-1]["result"] is None


async def test_started_then_failed(gateway: Gateway, client: httpx.Client,
                                   redis_server: RedisServer) -> None:
    # No catalog function fails on valid input, so the job is failed through the job
    # store's own transition, exactly as the worker's task_failure hook does it.
    job_id = submit_wait(client, 2)
    store = JobStore(redis.Redis.from_url(redis_server.url))

    def fail_once_started(event: dict[str, Any]) -> None:
        if event["status"] == "STARTED":
            store.transition(job_id, JobStatus.FAILED,
                             {"error": error_json("RuntimeError", "disk on fire")})

    async with ws_client(gateway) as session:
        events = await follow(session, job_id, fail_once_started)
    assert [e["status"] for e in events][-2:] == ["STARTED", "FAILED"]
    assert events[-1]["error"] == {"type": "RuntimeError", "message": "disk on fire"}


async def test_many_jobs_on_one_connection(gateway: Gateway, client: httpx.Client,
                                           redis_server: RedisServer) -> None:
    numbers = [10, 100, 1000, 10_000]
    job_ids = [submit_sum(client, n) for n in numbers]
    async with ws_client(gateway) as session:
        results = await asyncio.gather(*(follow(session, job_id) for job_id in job_ids))
    for n, job_id, events in zip(numbers, job_ids, results, strict=True):
        assert all(e["id"] == job_id for e in events)
        statuses = [e["status"] for e in events]
        # Each state once, in order; the first may already be past QUEUED.
        order = ["QUEUED", "STARTED", "SUCCEEDED"]
        assert statuses == order[order.index(statuses[0]):], statuses
        assert events[-1]["result"] == n * (n + 1) // 2
    for job_id in job_ids:
        await wait_for(lambda j=job_id: subscribers(redis_server, j) == 0, "unsubscribed")


async def test_a_finished_job_yields_once_and_completes(gateway: Gateway,
                                                        client: httpx.Client) -> None:
    job_id = submit_sum(client, 4)
    wait_for_status(client, job_id)
    async with ws_client(gateway) as session:
        events = await follow(session, job_id)
    assert [(e["status"], e["result"]) for e in events] == [("SUCCEEDED", 10)]


@pytest.mark.parametrize("job_id", ["0b9c6a1e-8d2f-4c3b-9e4a-5f6a7b8c9d0e", "not-a-job"])
async def test_unknown_job_ends_with_an_error(gateway: Gateway, job_id: str) -> None:
    async with ws_client(gateway) as session:
        with pytest.raises(TransportQueryError) as raised:
            await follow(session, job_id)
        assert raised.value.errors is not None
        [error] = raised.value.errors
        assert error["extensions"]["code"] == "NOT_FOUND" and job_id in error["message"]
        # The connection is still good for the next operation.
        assert (await session.execute(request(GET_JOB, id=job_id))) == {"job": None}


async def test_redis_outage_ends_subscriptions_with_unavailable(launch: Launcher) -> None:
    stack = launch.stack(worker=None, REDIS_TIMEOUT_SECONDS="1")
    redis_server, gateway, env = stack.redis, stack.gateway, stack.env
    with httpx.Client(base_url=gateway.url, timeout=15) as client:
        job_id = submit_sum(client, 5)  # no worker: stays QUEUED
        seen: list[dict[str, Any]] = []
        async with ws_client(gateway) as session:
            following = asyncio.create_task(follow(session, job_id, seen.append,
                                                   within=60))
            await wait_for(lambda: bool(seen), "the current state")
            redis_server.stop()
            with pytest.raises(TransportQueryError) as raised:
                await following
            assert raised.value.errors is not None
            assert raised.value.errors[0]["extensions"]["code"] == "UNAVAILABLE"
            # Queries and mutations: UNAVAILABLE too, with HTTP 200, never a 500.
            async with httpx.AsyncClient(base_url=gateway.url, timeout=15) as http:
                answers = [await http.post("/graphql", json={"query": q, "variables": v})
                           for q, v in ((GET_JOB, {"id": job_id}), (SUBMIT_SUM, {"n": 1}))]
            for r in answers:
                assert r.status_code == 200
                assert r.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"

        redis_server.start()  # same port and data: the hub reconnects on demand
        launch.worker(env, "outage-subscription-worker")
        # UNAVAILABLE means "retry": a pooled connection that predates the restart
        # fails once before redis-py replaces it. Retry until it works, bounded.
        deadline = time.monotonic() + 30
        while True:
            try:
                async with ws_client(gateway) as session:
                    events = await follow(session, job_id)
                break
            except TransportQueryError as exc:
                assert exc.errors and exc.errors[0]["extensions"]["code"] == \
                    "UNAVAILABLE", exc
                assert time.monotonic() < deadline, "the subscription never worked again"
                await asyncio.sleep(0.05)  # pacing the retries
        assert events[-1]["status"] == "SUCCEEDED" and events[-1]["result"] == 15
        assert data(client, GET_JOB, {"id": job_id})["job"]["result"] == 15


async def test_submit_over_websocket_matches_http(gateway: Gateway) -> None:
    async with ws_client(gateway) as session:
        job = (await session.execute(request(SUBMIT_WAIT, s=0.2)))["submitWaitAndReturn"]
        events = await follow(session, job["id"])
    assert events[-1]["result"] == "Hello World!"
