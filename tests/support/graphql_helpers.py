"""Helpers for the GraphQL tests: raw HTTP posts (to see exact errors and statuses) and a
third-party client (gql over graphql-transport-ws) that knows only the schema file."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from gateway.graphql.schema import SCHEMA_FILE
from tasks.redis.keys import JOB_INDEX_KEY
from tests.support.servers import Gateway, RedisServer

JOB_FIELDS = """id function status input result error { type message } attempts
                createdAt startedAt finishedAt callbackUrl
                progress { done total fraction message updatedAt }"""
JOB_UPDATED = f"subscription($id: ID!) {{ jobUpdated(id: $id) {{ {JOB_FIELDS} }} }}"
SUBMIT_SUM = f"mutation($n: BigInt!) {{ submitSum(number: $n) {{ {JOB_FIELDS} }} }}"
SUBMIT_WAIT = f"mutation($s: Float) {{ submitWaitAndReturn(seconds: $s) {{ {JOB_FIELDS} }} }}"
GET_JOB = f"query($id: ID!) {{ job(id: $id) {{ {JOB_FIELDS} }} }}"
CANCEL = "mutation($id: ID!) { cancelJob(id: $id) { id status } }"


def post(client: httpx.Client, query: str, variables: dict[str, Any] | None = None
         ) -> dict[str, Any]:
    """POST an operation; GraphQL answers 200 even when the operation failed."""
    r = client.post("/graphql", json={"query": query, "variables": variables})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def data(client: httpx.Client, query: str, variables: dict[str, Any] | None = None
         ) -> dict[str, Any]:
    body = post(client, query, variables)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]
    return result


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert len(body.get("errors") or []) == 1, body
    error: dict[str, Any] = body["errors"][0]
    return error


def submit_sum(client: httpx.Client, number: int | str) -> str:
    job_id: str = data(client, SUBMIT_SUM, {"n": number})["submitSum"]["id"]
    return job_id


def submit_wait(client: httpx.Client, seconds: float) -> str:
    job_id: str = data(client, SUBMIT_WAIT, {"s": seconds})["submitWaitAndReturn"]["id"]
    return job_id


def index_size(redis_server: RedisServer) -> int:
    """Every accepted submit adds its job to this index: unchanged means nothing queued."""
    return int(redis_server.client().zcard(JOB_INDEX_KEY))


def ws_client(gateway: Gateway) -> Client:
    transport = WebsocketsTransport(
        url=gateway.url.replace("http://", "ws://") + "/graphql",
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    # The schema file alone: gql validates every document against it before sending.
    return Client(transport=transport, schema=SCHEMA_FILE.read_text())


def request(document: str, **variables: Any) -> GraphQLRequest:
    return GraphQLRequest(document, variable_values=variables or None)


async def follow(session: Any, job_id: str,
                 on_event: Callable[[dict[str, Any]], Any] | None = None,
                 within: float = 90) -> list[dict[str, Any]]:
    """Every state jobUpdated yields until the subscription completes."""
    events: list[dict[str, Any]] = []

    async def run() -> None:
        async for result in session.subscribe(request(JOB_UPDATED, id=job_id)):
            events.append(result["jobUpdated"])
            if on_event is not None:
                outcome = on_event(result["jobUpdated"])
                if asyncio.iscoroutine(outcome):
                    await outcome

    await asyncio.wait_for(run(), within)
    return events
