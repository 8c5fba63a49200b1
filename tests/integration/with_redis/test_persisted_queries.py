"""Persisted queries (gateway/graphql/persisted.py) in a gateway app on a real Redis: the
protocol Apollo's link speaks, the same answers by hash as by text (auth, tenancy, rate
limits, limits), the store's bound, the allow-list, and every malformed extension."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import build_api
from gateway.graphql.persisted_manifest import ManifestError, load_manifest
from gateway.services.metrics import REGISTRY
from tasks.redis.keys import (
    PERSISTED_QUERIES_KEY,
    PERSISTED_QUERIES_USED_KEY,
    tenant_index_key,
)
from tasks.settings import Settings
from tests.support.helpers import normalized
from tests.support.persisted import by_hash, extension, gateway_app, sha
from tests.support.servers import RedisServer

SUBMIT = "mutation ($n: BigInt!) { submitSum(number: $n) { id status input } }"
JOB = "query ($id: ID!) { job(id: $id) { id status } }"
FUNCTIONS = "{ functions { name } }"
NOT_FOUND = {"errors": [{"message": "PersistedQueryNotFound",
                         "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]}
KEYS = "acme:acme-key-0123456789abcdef,other:other-key-0123456789abcdef"
ACME = {"X-API-Key": "acme-key-0123456789abcdef"}
OTHER = {"X-API-Key": "other-key-0123456789abcdef"}
PUBLIC_JOBS = tenant_index_key("public")  # the jobs of a gateway without keys


@pytest.fixture()
def redis_url(own_redis: RedisServer) -> str:
    own_redis.client().flushall()
    return own_redis.url


def hits(outcome: str) -> float:
    return REGISTRY.get_sample_value("gateway_graphql_persisted_queries_total",
                                     {"outcome": outcome}) or 0.0


async def three_ways(client: httpx.AsyncClient, document: str, variables: Any = None,
                     headers: dict[str, str] | None = None) -> list[httpx.Response]:
    """By text, by hash with the document (it is kept), by hash alone."""
    return [await client.post("/graphql", json=body, headers=headers) for body in (
        {"query": document, "variables": variables},
        by_hash(document, variables, with_document=True), by_hash(document, variables))]


async def test_unknown_hash_then_document_then_hash_in_every_process(
        redis_url: str, own_redis: RedisServer) -> None:
    before = {outcome: hits(outcome) for outcome in ("hit", "not_found", "registered")}
    async with gateway_app(redis_url) as (client, _):
        first = await client.post("/graphql", json=by_hash(SUBMIT, {"n": 3}))
        assert (first.status_code, first.json()) == (200, NOT_FOUND)
        answers = await three_ways(client, SUBMIT, {"n": 3})
        assert len({normalized(r) for r in answers}) == 1, [r.text for r in answers]
        assert answers[0].json()["data"]["submitSum"]["status"] == "QUEUED"
    # Another process (a new app): the hash alone, from Redis.
    async with gateway_app(redis_url) as (client, _):
        again = await client.post("/graphql", json=by_hash(SUBMIT, {"n": 3}))
        assert normalized(again) == normalized(answers[0])
    assert own_redis.client().zcard(PUBLIC_JOBS) == 4  # 3 ways + the other process
    assert own_redis.client().hget(PERSISTED_QUERIES_KEY, sha(SUBMIT)) == SUBMIT.encode()
    grew = {outcome: hits(outcome) - before[outcome] for outcome in before}
    assert grew == {"hit": 2, "not_found": 1, "registered": 1}


async def test_by_hash_as_by_text_auth_tenancy_and_errors(redis_url: str) -> None:
    async with gateway_app(redis_url, api_keys=KEYS) as (client, _):
        job = (await client.post("/graphql", json={"query": SUBMIT, "variables": {"n": 1}},
                                 headers=ACME)).json()["data"]["submitSum"]
        cases = [(JOB, {"id": job["id"]}, ACME), (JOB, {"id": job["id"]}, OTHER),  # tenancy
                 (SUBMIT, {"n": -1}, ACME), (SUBMIT, {"n": "ten"}, ACME),  # bad input
                 (FUNCTIONS, None, {}), (FUNCTIONS, None, {"X-API-Key": "wrong-key-0123456789"})]
        for document, variables, headers in cases:
            answers = await three_ways(client, document, variables, headers)
            assert len({normalized(r) for r in answers}) == 1, [r.text for r in answers]
        assert answers[0].status_code == 401
        foreign = await client.post("/graphql", json=by_hash(JOB, {"id": job["id"]}),
                                    headers=OTHER)
        assert foreign.json() == {"data": {"job": None}}


async def test_rate_limit_by_hash(redis_url: str) -> None:
    async with gateway_app(redis_url, rate_limit_per_second=0.001, rate_limit_burst=3
                           ) as (client, _):
        statuses = [(await client.post("/graphql", json=body)).status_code for body in (
            by_hash(FUNCTIONS, with_document=True), by_hash(FUNCTIONS), by_hash(FUNCTIONS),
            by_hash(FUNCTIONS))]
        assert statuses == [200, 200, 200, 429]


@pytest.mark.parametrize("document, code", [
    ("{ functions { " + "name " * 150 + "} }", "GRAPHQL_PARSE_FAILED"),  # over 100 tokens
    ("{ jobs { edges { node { id } } } }", "GRAPHQL_VALIDATION_FAILED"),  # deeper than 2
])
async def test_a_document_over_the_limits_is_not_kept(redis_url: str, own_redis: RedisServer,
                                                      document: str, code: str) -> None:
    async with gateway_app(redis_url, graphql_max_tokens=100, graphql_max_depth=2
                           ) as (client, _):
        sent = await client.post("/graphql", json=by_hash(document, with_document=True))
        assert sent.json()["errors"][0]["extensions"]["code"] == code
        after = await client.post("/graphql", json=by_hash(document))
        assert after.json() == NOT_FOUND
    assert not own_redis.client().exists(PERSISTED_QUERIES_KEY)


async def test_the_store_keeps_the_most_recently_used(redis_url: str,
                                                      own_redis: RedisServer) -> None:
    documents = [f"query Q{i} {{ functions {{ name }} }}" for i in range(3)]
    async with gateway_app(redis_url, graphql_persisted_max=2) as (client, _):
        for document in documents:
            assert "data" in (await client.post(
                "/graphql", json=by_hash(document, with_document=True))).json()
    redis = own_redis.client()
    assert redis.hlen(PERSISTED_QUERIES_KEY) == redis.zcard(PERSISTED_QUERIES_USED_KEY) == 2
    assert not redis.hexists(PERSISTED_QUERIES_KEY, sha(documents[0]))


def _with(persisted: object) -> dict[str, Any]:
    return {"query": FUNCTIONS, "extensions": {"persistedQuery": persisted}}


BAD_BODIES: dict[str, tuple[dict[str, Any], str]] = {
    "extension not an object": ({"extensions": {"persistedQuery": "abc"}}, "must be an object"),
    "extension a list": (_with([1]), "must be an object"),
    "version missing": (_with({"sha256Hash": sha(FUNCTIONS)}), "version must be 1"),
    "version 2": (_with({"version": 2, "sha256Hash": sha(FUNCTIONS)}), "got 2"),
    "version a string": (_with({"version": "1", "sha256Hash": sha(FUNCTIONS)}), "got '1'"),
    "version true": (_with({"version": True, "sha256Hash": sha(FUNCTIONS)}), "got True"),
    "hash missing": (_with({"version": 1}), "64 hex digits"),
    "hash a number": (_with({"version": 1, "sha256Hash": 12}), "64 hex digits"),
    "hash short": (_with({"version": 1, "sha256Hash": "ab" * 31}), "64 hex digits"),
    "hash not hex": (_with({"version": 1, "sha256Hash": "g" * 64}), "64 hex digits"),
    "hash of another document": (_with({"version": 1, "sha256Hash": sha(SUBMIT)}),
                                 "not the SHA-256 of the query"),
    "extensions a list": ({"query": FUNCTIONS, "extensions": [extension(sha(FUNCTIONS))]},
                          "`extensions` must be an object"),
}


async def test_malformed_persisted_requests(redis_url: str, own_redis: RedisServer) -> None:
    async with gateway_app(redis_url) as (client, _):
        for name, (body, words) in BAD_BODIES.items():
            for send in ("post", "get"):
                if send == "post":
                    r = await client.post("/graphql", json=body)
                else:
                    r = await client.get("/graphql", params={
                        k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()})
                assert r.status_code == 400, (name, send, r.text)
                assert words in r.json()["errors"][0]["message"], (name, send, r.text)
        # A mutation by hash over GET: refused, known or not, and nothing queued.
        await client.post("/graphql", json=by_hash(SUBMIT, {"n": 2}, with_document=True))
        queued = own_redis.client().zcard(PUBLIC_JOBS)
        for body in (by_hash(SUBMIT, {"n": 2}), by_hash(SUBMIT, {"n": 2}, with_document=True)):
            r = await client.get("/graphql", params={k: v if isinstance(v, str) else
                                                      json.dumps(v) for k, v in body.items()})
            assert r.status_code == 400 and "mutations are not allowed" in r.text, r.text
        assert own_redis.client().zcard(PUBLIC_JOBS) == queued
    assert own_redis.client().hlen(PERSISTED_QUERIES_KEY) == 1  # only the good one


async def test_a_query_by_hash_over_get(redis_url: str) -> None:
    params = {"extensions": json.dumps(extension(sha(FUNCTIONS)))}
    async with gateway_app(redis_url) as (client, _):
        unknown = await client.get("/graphql", params=params, headers={"Accept": "*/*"})
        assert unknown.json() == NOT_FOUND  # JSON, not GraphiQL's page
        await client.get("/graphql", params={**params, "query": FUNCTIONS})
        known = await client.get("/graphql", params=params)
        assert known.json()["data"]["functions"], known.text
        assert known.headers["cache-control"] == "private, no-cache"
        assert "Authorization" in known.headers["vary"]


def _manifest(path: Path, operations: list[dict[str, Any]]) -> str:
    path.write_text(json.dumps({"format": "apollo-persisted-query-manifest", "version": 1,
                                "operations": operations}))
    return str(path)


async def test_allow_list(redis_url: str, own_redis: RedisServer, tmp_path: Path) -> None:
    manifest = _manifest(tmp_path / "manifest.json", [
        {"id": sha(document), "name": None, "type": kind, "body": document}
        for document, kind in ((FUNCTIONS, "query"), (SUBMIT, "mutation"))])
    other = "query Other { functions { description } }"
    async with gateway_app(redis_url, graphql_operations_manifest=manifest) as (client, _):
        for body in (by_hash(FUNCTIONS), {"query": FUNCTIONS},
                     by_hash(SUBMIT, {"n": 1}), by_hash(SUBMIT, {"n": 1}, with_document=True)):
            r = await client.post("/graphql", json=body)
            assert "data" in r.json() and "errors" not in r.json(), (body, r.text)
        for body in (by_hash(other), by_hash(other, with_document=True), {"query": other}):
            r = await client.post("/graphql", json=body)
            assert r.status_code == 400 and "not in this gateway's allow-list" in r.text, r.text
    assert not own_redis.client().exists(PERSISTED_QUERIES_KEY)  # the manifest is the store


@pytest.mark.parametrize("content, words", [
    ("{", "not JSON"),
    ('{"format": "other", "version": 1, "operations": []}', "apollo-persisted-query-manifest"),
    ('{"format": "apollo-persisted-query-manifest", "version": 1, "operations": {}}',
     "'operations' must be a list"),
    ('{"format": "apollo-persisted-query-manifest", "version": 1, "operations": '
     '[{"id": "x", "type": "query"}]}', "string 'body'"),
    ('{"format": "apollo-persisted-query-manifest", "version": 1, "operations": '
     '[{"id": "x", "name": "F", "type": "query", "body": "{ functions { name } }"}]}',
     "operation 1 (F): 'id' is not the SHA-256"),
])
def test_a_bad_manifest_stops_the_start(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(content)
    with pytest.raises(ManifestError, match=words.replace("(", r"\(").replace(")", r"\)")):
        load_manifest(str(path))
    with pytest.raises(ManifestError, match="cannot read it"):
        load_manifest(str(tmp_path / "missing.json"))


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_allow_list_over_websocket(redis_url: str, tmp_path: Path) -> None:
    from starlette.testclient import TestClient  # (its WebSocket client, in process)

    listed = 'subscription { jobUpdated(id: "00000000-0000-4000-8000-000000000000") { id } }'
    manifest = _manifest(tmp_path / "manifest.json", [
        {"id": sha(listed), "name": None, "type": "subscription", "body": listed}])
    api = build_api(Settings(_env_file=None, redis_url=redis_url,
                             graphql_operations_manifest=manifest))
    with TestClient(api) as client, client.websocket_connect(
            "/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe",
                      "payload": {"query": listed.replace("{ id }", "{ status }")}})
        refused = ws.receive_json()
        assert refused["type"] == "error" and refused["id"] == "1", refused
        assert "allow-list" in refused["payload"][0]["message"]
        ws.send_json({"id": "2", "type": "subscribe", "payload": {"query": listed}})
        answer = ws.receive_json()  # the unknown job: NOT_FOUND, from the resolver itself
        assert (answer["id"] == "2" and answer["type"] != "error") or (
            "allow-list" not in json.dumps(answer)), answer
