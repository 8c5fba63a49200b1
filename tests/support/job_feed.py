"""Helpers for the tests of jobsUpdated (the live job list): subscriptions collecting what
they see, REST submits as one tenant, and `live`, which waits until each subscription has
seen a probe job of its tenant end (a wait_and_return of 0 s passes the filters the tests
use), so that no test depends on how quickly a subscription starts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from gql import Client
from gql.transport.websockets import WebsocketsTransport

from gateway.graphql.schema import SCHEMA_FILE
from tests.support.graphql_helpers import request

JOBS_UPDATED = """subscription($status: JobStatus, $function: String) {
    jobsUpdated(status: $status, function: $function) { id function status result } }"""
Seen = list[dict[str, Any]]


def ws(base_url: str, key: str) -> Client:
    """gql over graphql-transport-ws as the tenant of `key`, knowing only the schema file."""
    transport = WebsocketsTransport(
        url=base_url.replace("http://", "ws://") + "/graphql",
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        init_payload={"Authorization": f"Bearer {key}"})
    return Client(transport=transport, schema=SCHEMA_FILE.read_text())


def rest(base_url: str, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, timeout=10, headers={"X-API-Key": key})


async def submit(base_url: str, key: str, path: str, body: dict[str, Any]) -> str:
    async with rest(base_url, key) as http:
        r = await http.post(f"/producer/api/{path}", json=body)
        assert r.status_code == 200, r.text
        job_id: str = r.json()["job_id"]
        return job_id


async def until(check: Callable[[], bool], within: float = 60) -> None:
    for _ in range(int(within / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"not seen within {within} s")


def ended(seen: Seen, job_id: str, status: str = "SUCCEEDED") -> bool:
    return any(u["id"] == job_id and u["status"] == status for u in seen)


def statuses(seen: Seen, job_id: str) -> list[str]:
    """The statuses the job went through, in the order seen, consecutive repeats collapsed:
    a running job's progress reports are changes too (records of the same status, more
    or fewer with the machine's load), while what the list promises is every change of
    status, in order."""
    went: list[str] = []
    for update in seen:
        if update["id"] == job_id and (not went or went[-1] != update["status"]):
            went.append(update["status"])
    return went


def watch(session: Any, seen: Seen, **filters: str) -> asyncio.Task[None]:
    """A jobsUpdated subscription on `session` appending each update to `seen`."""
    async def run() -> None:
        async for result in session.subscribe(request(JOBS_UPDATED, **filters)):
            seen.append(result["jobsUpdated"])

    return asyncio.create_task(run())


async def stop(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def live(base_url: str, key: str, *lists: Seen) -> None:
    """Until each subscription of the tenant (its list) has seen a probe job end."""
    probe = await submit(base_url, key, "wait_and_return", {"seconds": 0})
    await until(lambda: all(ended(seen, probe) for seen in lists))


async def own_jobs_only(base_url: str, keys: tuple[str, str]) -> dict[str, tuple[Seen, list[str]]]:
    """Two tenants each subscribe, then each submit three sums: by key, what the tenant's
    subscription saw and the ids of its sums, once every sum was seen ending."""
    seen: dict[str, Seen] = {key: [] for key in keys}
    async with ws(base_url, keys[0]) as first, ws(base_url, keys[1]) as second:
        tasks = [watch(first, seen[keys[0]]), watch(second, seen[keys[1]])]
        try:
            for key in keys:
                await live(base_url, key, seen[key])
            mine = {key: [await submit(base_url, key, "sum", {"number": n})
                          for n in (10, 20, 30)] for key in keys}
            await until(lambda: all(ended(seen[key], j) for key in keys for j in mine[key]))
        finally:
            await stop(tasks)
    return {key: (seen[key], mine[key]) for key in keys}
