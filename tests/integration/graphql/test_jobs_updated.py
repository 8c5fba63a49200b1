"""jobsUpdated, the live job list, over a real WebSocket (gql, knowing only the schema file)
with API keys on: each tenant sees the changes of its own jobs and never another's, the
filters hold, a bad filter is the same bad-input error as jobs(function:), and a lost pub/sub
connection ends it with UNAVAILABLE (changes may have been missed).

A subscription is live once it saw a probe job of its own end (a wait_and_return of 0 s
passes every filter used here): no test depends on how quickly a subscription starts."""

from __future__ import annotations

import asyncio

import pytest
from gql.transport.exceptions import TransportQueryError

from tasks.redis.keys import tenant_event_channel
from tests.support.graphql_helpers import request
from tests.support.job_feed import (
    JOBS_UPDATED,
    Seen,
    ended,
    live,
    own_jobs_only,
    rest,
    statuses,
    stop,
    submit,
    until,
    watch,
    ws,
)
from tests.support.launcher import Launcher, Stack

ALPHA = "alpha-feed-key-0123456789"
BETA = "beta-feed-key-0123456789"


@pytest.fixture(scope="module")
def keyed(module_launch: Launcher) -> Stack:
    return module_launch.stack("feed-worker", API_KEYS=f"alpha:{ALPHA},beta:{BETA}")


async def test_each_tenant_sees_its_own_jobs_and_never_another(keyed: Stack) -> None:
    got = await own_jobs_only(keyed.url, (ALPHA, BETA))
    for key, other in ((ALPHA, BETA), (BETA, ALPHA)):
        seen, own = got[key]
        ids = {u["id"] for u in seen}
        assert not ids & set(got[other][1])
        assert set(own) <= ids
        for job_id in own:  # every change of the job's status, in order, the result at the end
            assert statuses(seen, job_id) == ["STARTED", "SUCCEEDED"], seen
        assert {u["result"] for u in seen if u["id"] in own} >= {55, 210, 465}


async def test_filters_by_status_and_function(keyed: Stack) -> None:
    succeeded: Seen = []
    waits: Seen = []
    cancelled_sums: Seen = []
    async with ws(keyed.url, ALPHA) as alpha:
        tasks = [watch(alpha, succeeded, status="SUCCEEDED"),
                 watch(alpha, waits, function="wait_and_return"),
                 watch(alpha, cancelled_sums, status="CANCELLED", function="sum_to_n_job")]
        try:
            await live(keyed.url, ALPHA, succeeded, waits)
            summed = await submit(keyed.url, ALPHA, "sum", {"number": 10})
            short = await submit(keyed.url, ALPHA, "wait_and_return", {"seconds": 0.2})
            long = await submit(keyed.url, ALPHA, "wait_and_return", {"seconds": 20})
            await until(lambda: ended(waits, long, "STARTED"))
            async with rest(keyed.url, ALPHA) as http:
                await http.delete(f"/producer/api/jobs/{long}")
            await until(lambda: ended(succeeded, summed) and ended(succeeded, short)
                        and ended(waits, long, "CANCELLED"))
        finally:
            await stop(tasks)
    assert {u["status"] for u in succeeded} == {"SUCCEEDED"}
    assert {summed, short} <= {u["id"] for u in succeeded} and long not in {
        u["id"] for u in succeeded}
    assert {u["function"] for u in waits} == {"wait_and_return"}
    assert summed not in {u["id"] for u in waits}
    assert statuses(waits, long) == ["STARTED", "CANCELLED"], waits
    assert cancelled_sums == []  # the cancelled job runs wait_and_return


async def test_an_unknown_function_is_the_listings_bad_input(keyed: Stack) -> None:
    async with ws(keyed.url, ALPHA) as alpha:
        with pytest.raises(TransportQueryError) as refused:
            async for _ in alpha.subscribe(request(JOBS_UPDATED, function="nope")):
                pass
    assert refused.value.errors is not None
    error = refused.value.errors[0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    async with rest(keyed.url, ALPHA) as http:
        jobs = (await http.post("/graphql", json={
            "query": 'query { jobs(function: "nope") { edges { node { id } } } }'})).json()
    assert error["message"] == jobs["errors"][0]["message"]
    assert "unknown function 'nope'" in error["message"]


def tenant_subscribers(stack: Stack, tenant: str) -> int:
    channel = tenant_event_channel(tenant)
    return int(dict(stack.redis.client().pubsub_numsub(channel))[channel.encode()])


async def test_a_lost_connection_ends_it_with_unavailable_and_leaving_unsubscribes(
        keyed: Stack) -> None:
    seen: Seen = []
    async with ws(keyed.url, ALPHA) as alpha:
        task = watch(alpha, seen)
        await live(keyed.url, ALPHA, seen)
        assert tenant_subscribers(keyed, "alpha") == 1
        # Changes published while the gateway reconnects would be missed: the list ends,
        # and its client subscribes again and reads jobs() again.
        keyed.redis.client().client_kill_filter(_type="pubsub")
        with pytest.raises(TransportQueryError) as ended_by:
            await asyncio.wait_for(task, 30)
        assert ended_by.value.errors is not None
        assert ended_by.value.errors[0]["extensions"]["code"] == "UNAVAILABLE"
        again: Seen = []
        task = watch(alpha, again)
        await live(keyed.url, ALPHA, again)  # a new subscription works at once
        await stop([task])
    await until(lambda: tenant_subscribers(keyed, "alpha") == 0)
