"""Idempotent GraphQL submits and rate limits (the GraphQL face of the same admission)."""

from __future__ import annotations

import json

import httpx

from tasks.redis.keys import tenant_index_key
from tests.support.gateway_log import LogWatch
from tests.support.graphql_helpers import post
from tests.support.launcher import Launcher
from tests.support.servers import RedisServer

SUBMIT = """mutation($n: BigInt!, $key: String) {
  submitSum(number: $n, idempotencyKey: $key) { id status } }"""


def test_idempotency_key(client: httpx.Client, redis_server: RedisServer) -> None:
    index = redis_server.client()
    before = index.zcard(tenant_index_key("public"))
    first = post(client, SUBMIT, {"n": 5, "key": "gql-order-1"})["data"]["submitSum"]
    again = post(client, SUBMIT, {"n": 5, "key": "gql-order-1"})["data"]["submitSum"]
    assert first["id"] == again["id"]
    assert index.zcard(tenant_index_key("public")) == before + 1
    other = post(client, SUBMIT, {"n": 6, "key": "gql-order-1"})
    assert other["errors"][0]["extensions"]["code"] == "CONFLICT"
    bad = post(client, SUBMIT, {"n": 6, "key": "x" * 300})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Idempotency-Key" in bad["errors"][0]["message"]
    assert index.zcard(tenant_index_key("public")) == before + 1


def test_rate_limit_over_graphql(launch: Launcher) -> None:
    stack = launch.stack(worker=None, RATE_LIMIT_PER_SECOND="0.1", RATE_LIMIT_BURST="3")
    with stack.client() as c:
        # Each request takes a token, and each submit inside it takes one more.
        first = post(c, SUBMIT, {"n": 1, "key": None})
        assert first["data"]["submitSum"]["status"] == "QUEUED"
        limited = post(c, SUBMIT, {"n": 1, "key": None})
        assert limited["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        r = c.post("/graphql", json={"query": "{ functions { name } }"})
        assert r.status_code == 429 and r.headers["retry-after"].isdigit()


def test_the_key_is_checked_before_the_body(launch: Launcher) -> None:
    """Without a key no GraphQL body is read, known document (the prepared path) or not:
    a body nested 1,000 deep is a 401 like any other; with the key, a 400 saying why."""
    key = "graphql-key-0123456789abcdef"
    gateway = launch.stack(worker=None, API_KEYS=f"t:{key}").gateway
    watch = LogWatch(gateway)
    deep = "[" * 1000 + "]" * 1000
    wrong = {"Authorization": "Bearer wrong-key-0123456789"}
    keyed = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=gateway.url) as c:
        r = c.post("/graphql", json={"query": SUBMIT, "variables": {"n": 1}}, headers=keyed)
        assert r.json()["data"]["submitSum"]["status"] == "QUEUED"  # a known document now
        for document in (SUBMIT, "{ functions { name } }"):
            body = '{"query": ' + json.dumps(document) + ', "variables": {"n": ' + deep + "}}"
            for headers, status in (({}, 401), (wrong, 401), (keyed, 400)):
                r = c.post("/graphql", content=body,
                           headers={"content-type": "application/json", **headers})
                assert r.status_code == status, (document, headers, r.text)
        r = c.get("/graphql", params={"query": "{ functions { name } }",
                                      "variables": '{"n": ' + deep + "}"})
        assert r.status_code == 401, r.text
    assert watch.errors() == []
