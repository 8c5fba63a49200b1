"""With API keys on, one tenant cannot see, list, cancel or follow another's jobs: REST,
GraphQL and subscriptions, event streams, long polls and the live job list, all through
NGINX."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from typing import Any

import httpx
import pytest
from gql.transport.exceptions import TransportQueryError
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.support.edge import EdgeStack
from tests.support.graphql_helpers import GET_JOB, JOB_UPDATED, SUBMIT_SUM, request
from tests.support.helpers import wait_for_status
from tests.support.job_feed import own_jobs_only
from tests.support.launcher import Launcher
from tests.support.sse import EVENTS_PATH, job_events

ALPHA = "alpha-key-0123456789abcdef"
BETA = "beta-key-0123456789abcdef"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
LIST = "query { jobs(first: 100) { edges { node { id } } } }"


@pytest.fixture(scope="module")
def keyed_edge(module_launch: Launcher) -> EdgeStack:
    return module_launch.edge("tenants-edge", API_KEYS=f"alpha:{ALPHA},beta:{BETA}",
                              WEBHOOK_SECRET=WEBHOOK_SECRET)


def gql_post(stack: EdgeStack, key: str | None, query: str, **variables: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with stack.client() as c:
        return c.post("/graphql", json={"query": query, "variables": variables},
                      headers=headers)


def test_rest_tenants_are_apart(keyed_edge: EdgeStack) -> None:
    with keyed_edge.client(headers={"X-API-Key": ALPHA}) as alpha, \
            keyed_edge.client(headers={"X-API-Key": BETA}) as beta, \
            keyed_edge.client() as anonymous:
        job_id = alpha.post("/producer/api/sum", json={"number": 10}).json()["job_id"]
        assert wait_for_status(alpha, job_id)["result"] == 55
        assert anonymous.get(f"/producer/api/jobs/{job_id}").status_code == 401
        assert anonymous.post("/producer/api/sum", json={"number": 1}).status_code == 401
        assert beta.get(f"/producer/api/jobs/{job_id}").status_code == 404
        assert beta.get(f"/producer/api/sum/{job_id}").status_code == 404
        assert beta.delete(f"/producer/api/jobs/{job_id}").status_code == 404
        assert alpha.get(f"/producer/api/sum/{job_id}").json()["result"] == 55
        assert anonymous.get("/healthz").status_code == 200


def test_graphql_tenants_are_apart(keyed_edge: EdgeStack) -> None:
    assert gql_post(keyed_edge, None, LIST).status_code == 401
    made = gql_post(keyed_edge, ALPHA, SUBMIT_SUM, n=10).json()
    job_id = made["data"]["submitSum"]["id"]
    alpha_jobs = gql_post(keyed_edge, ALPHA, LIST).json()["data"]["jobs"]["edges"]
    assert job_id in [e["node"]["id"] for e in alpha_jobs]
    beta_jobs = gql_post(keyed_edge, BETA, LIST).json()["data"]["jobs"]["edges"]
    assert job_id not in [e["node"]["id"] for e in beta_jobs]
    assert gql_post(keyed_edge, BETA, GET_JOB, id=job_id).json()["data"]["job"] is None
    cancel = gql_post(keyed_edge, BETA, "mutation($id: ID!) { cancelJob(id: $id) { id } }",
                      id=job_id).json()
    assert cancel["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert gql_post(keyed_edge, ALPHA, GET_JOB, id=job_id).json()["data"]["job"]["id"] == job_id


def test_subscriptions_are_per_tenant(keyed_edge: EdgeStack) -> None:
    job_id = gql_post(keyed_edge, ALPHA, SUBMIT_SUM, n=10).json()["data"]["submitSum"]["id"]

    async def follow(key: str | None) -> list[dict[str, Any]]:
        async with keyed_edge.graphql_ws(key) as session:
            return [e["jobUpdated"] async for e in session.subscribe(
                request(JOB_UPDATED, id=job_id))]

    seen = asyncio.run(asyncio.wait_for(follow(ALPHA), 60))
    assert seen[-1]["status"] == "SUCCEEDED" and seen[-1]["result"] == 55
    with pytest.raises(TransportQueryError) as refused:
        asyncio.run(asyncio.wait_for(follow(BETA), 60))
    assert refused.value.errors is not None
    assert refused.value.errors[0]["extensions"]["code"] == "NOT_FOUND"
    assert asyncio.run(close_code_without_key(keyed_edge)) == 4403


async def close_code_without_key(stack: EdgeStack) -> int | None:
    url = stack.url.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(socket.recv(), 10)
        return socket.close_code


def test_event_streams_and_long_polls_are_per_tenant(keyed_edge: EdgeStack) -> None:
    with keyed_edge.client(headers={"X-API-Key": ALPHA}) as alpha, \
            keyed_edge.client(headers={"X-API-Key": BETA}) as beta:
        job_id = alpha.post("/producer/api/sum", json={"number": 10}).json()["job_id"]
        for theirs in (job_id, "00000000-0000-4000-8000-000000000000"):
            r = beta.get(EVENTS_PATH.format(id=theirs))
            assert r.status_code == 404 and r.json()["error"] == "NOT_FOUND", r.text
        r = beta.get(f"/producer/api/sum/{job_id}", params={"wait": 5})
        assert r.status_code == 404, r.text
        assert job_events(alpha, job_id)[-1].json()["result"] == 55


def test_live_job_lists_are_per_tenant(keyed_edge: EdgeStack) -> None:
    got = asyncio.run(asyncio.wait_for(own_jobs_only(keyed_edge.url, (ALPHA, BETA)), 90))
    for key, other in ((ALPHA, BETA), (BETA, ALPHA)):
        seen, own = got[key]
        assert set(own) <= {u["id"] for u in seen}
        assert not {u["id"] for u in seen} & set(got[other][1])


def test_no_key_or_secret_reaches_any_log(keyed_edge: EdgeStack) -> None:
    """Runs last: after keys, webhook registration and secret rotation were all used."""
    with keyed_edge.client(headers={"X-API-Key": ALPHA}) as alpha:
        made = alpha.post("/producer/api/webhooks",
                          json={"url": "https://hooks.example.com/x"}).json()
        rotated = alpha.post(f"/producer/api/webhooks/{made['id']}/rotate-secret").json()
        assert "secret" not in alpha.get("/producer/api/webhooks").json()[0]
        alpha.post("/producer/api/sum", json={"number": 2,
                                              "callback_url": "https://hooks.example.com/cb"})
        alpha.get("/producer/api/jobs/not-a-job", headers={"Authorization": f"Bearer {BETA}"})
    logs = keyed_edge.logs()
    assert logs, "no logs were written"
    for secret in (ALPHA, BETA, WEBHOOK_SECRET, made["secret"], rotated["secret"]):
        leaks = [name for name, text in logs.items() if secret in text]
        assert not leaks, f"a key or secret is in the logs of {leaks}"
