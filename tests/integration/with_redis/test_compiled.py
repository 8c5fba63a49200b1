"""Compiled plans (gateway/graphql/compiled.py) answer exactly as the full path: each
operation is sent both ways, in process, on a real Redis, and the answers compared byte
for byte (job ids aside); the operations a plan cannot answer are shown to compile to
nothing. Stored results beyond 2^63 and inputs beyond it come back as integers."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from typing import Any

import httpx
import pytest
from graphql import parse

from gateway.app import build_api
from gateway.graphql import compiled, prepared, root_call
from gateway.graphql.router import GatewayGraphQL
from gateway.graphql.schema import build_schema
from tasks.redis.keys import job_key
from tasks.settings import Settings
from tests.support.helpers import normalized
from tests.support.servers import RedisServer

KEY = "compiled-plan-test-key-0123456789"
HEADERS = {"X-API-Key": KEY, "Content-Type": "application/json"}
ALL_JOB_FIELDS = ("id function status input result attempts createdAt startedAt finishedAt "
                  "callbackUrl __typename error { type message __typename } "
                  "progress { done total fraction message updatedAt }")
SUBMIT = "mutation ($n: BigInt!) { submitSum(number: $n) { id status input } }"
JOB = "query ($id: ID!) { job(id: $id) { " + ALL_JOB_FIELDS + " } }"
BIG = 2**63 + 5  # beyond a signed 64-bit integer, within orjson's unsigned one

# (query, variables) sent both ways; "<ok>", "<failed>" and "<running>" stand for the ids
# of the records the test writes.
CASES: list[tuple[str, dict[str, Any] | None]] = [
    (SUBMIT, {"n": 3}),
    (SUBMIT, {"n": "3"}),  # BigInt takes a string too
    (SUBMIT, {"n": -1}),  # the service refuses it: BAD_USER_INPUT, from the executor
    (SUBMIT, {"n": 10**9}),  # over SUM_MAX_NUMBER
    (SUBMIT, {"n": BIG}),
    (SUBMIT, {"n": 10**40}),  # out of BigInt's range: variable coercion
    (SUBMIT, {"n": "abc"}),
    (SUBMIT, {}),
    (SUBMIT, None),
    ("mutation { a: submitSum(number: 3) { b: id c: status __typename } }", None),
    ("mutation ($n: BigInt!, $u: String) { submitSum(number: $n, callbackUrl: $u) "
     "{ callbackUrl } }", {"n": 3, "u": "https://example.com/hook"}),
    ("mutation ($n: BigInt!, $u: String) { submitSum(number: $n, callbackUrl: $u) { id } }",
     {"n": 3, "u": "ftp://example.com/"}),  # a refused URL
    ("mutation { submitSum(number: 3, idempotencyKey: \"k1\") { input } }", None),
    ("mutation { submitSum(number: 3, idempotencyKey: \"k1\") { input } }", None),  # replay
    ("mutation { submitSum(number: 4, idempotencyKey: \"k1\") { id } }", None),  # CONFLICT
    ("mutation { submitWaitAndReturn(seconds: 0.5) { function input } }", None),
    ("mutation { submitWaitAndReturn(seconds: null) { input } }", None),
    ("mutation { submitWaitAndReturn { input } }", None),
    ("mutation ($s: Float) { submitWaitAndReturn(seconds: $s) { input } }", {}),  # default
    ("mutation ($s: Float) { submitWaitAndReturn(seconds: $s) { input } }", {"s": None}),
    ("mutation ($s: Float) { submitWaitAndReturn(seconds: $s) { input } }", {"s": 2}),
    ("mutation ($s: Float) { submitWaitAndReturn(seconds: $s) { input } }", {"s": "x"}),
    ("mutation ($s: Float = 3) { submitWaitAndReturn(seconds: $s) { input } }", {}),
    ("mutation ($i: JSON!) { submitJob(function: \"sum_to_n_job\", input: $i) "
     "{ function input } }", {"i": {"number": 5}}),
    ("mutation ($i: JSON!) { submitJob(function: \"nope\", input: $i) { id } }",
     {"i": {}}),  # NOT_FOUND
    ("mutation ($i: JSON!) { submitJob(function: \"sum_to_n_job\", input: $i) { id } }",
     {"i": [1]}),  # input not an object
    (JOB, {"id": "<ok>"}),
    (JOB, {"id": "<failed>"}),
    (JOB, {"id": "<running>"}),
    (JOB, {"id": "00000000-0000-4000-8000-000000000000"}),  # no such job: null
    (JOB, {"id": "not-a-uuid"}),
    (JOB, {"id": 12}),  # ID takes an integer
    (JOB, {"id": True}),
    ("query { job(id: \"<ok>\") { result status } }", None),
]


def _records(redis: Any, ids: dict[str, str]) -> None:
    """Turn three queued jobs into a finished, a failed and a running one."""
    redis.hset(job_key(ids["<ok>"]), mapping={
        "status": "SUCCEEDED", "result": str(BIG), "attempts": 1, "started_at": 1.5e9,
        "finished_at": 1.5e9 + 0.25})
    redis.hset(job_key(ids["<failed>"]), mapping={
        "status": "FAILED", "error": json.dumps({"type": "ValueError", "message": "bö"}),
        "attempts": 2, "started_at": 1.5e9, "finished_at": 1.6e9})
    redis.hset(job_key(ids["<running>"]), mapping={
        "status": "STARTED", "attempts": 1, "started_at": 1.5e9, "progress": json.dumps(
            {"done": 3, "total": 10, "message": None, "updated_at": 1.5e9 + 1})})


def _substitute(value: Any, ids: dict[str, str]) -> Any:
    text = json.dumps(value)
    for name, job_id in ids.items():
        text = text.replace(name, job_id)
    return json.loads(text)


def test_compiled_and_full_path_answer_alike(own_redis: RedisServer,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None, redis_url=own_redis.url, api_keys=f"acme:{KEY}")
    api = build_api(settings)
    answered: list[bool] = []
    real_run = prepared.run

    async def executor(*args: Any) -> Any:  # the executor ran: no plan answered alone
        answered.append(False)
        return await real_run(*args)

    monkeypatch.setattr(prepared, "run", executor)

    async def compare() -> None:
        async with api.router.lifespan_context(api):
            graphql: GatewayGraphQL = api.state.graphql
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api),
                                         base_url="http://gw") as client:
                ids = {}
                for name in ("<ok>", "<failed>", "<running>"):
                    r = await client.post("/graphql", headers=HEADERS, content=json.dumps(
                        {"query": "mutation { submitSum(number: 2) { id } }"}))
                    ids[name] = r.json()["data"]["submitSum"]["id"]
                _records(own_redis.client(), ids)
                planned = 0
                for query, variables in CASES:
                    content = json.dumps(_substitute(
                        {"query": query, "variables": variables}, ids))
                    graphql.prepared_path = False
                    full = await client.post("/graphql", headers=HEADERS, content=content)
                    graphql.prepared_path = True
                    answered.clear()
                    fast = await client.post("/graphql", headers=HEADERS, content=content)
                    assert normalized(fast) == normalized(full), content
                    assert full.status_code == 200, full.text
                    planned += not answered
                assert planned >= len(CASES) // 2  # most of them took a plan alone
                ok = await client.post("/graphql", headers=HEADERS, content=json.dumps(
                    {"query": JOB, "variables": {"id": ids["<ok>"]}}))
                assert f'"result":{BIG},' in ok.text  # an integer, not 9.2e18

    asyncio.run(compare())


@pytest.mark.parametrize("query", [
    "mutation { submitSum(number: 1) { id } submitSum2: submitSum(number: 2) { id } }",
    "mutation { submitSum(number: 1) { ...F } } fragment F on Job { id }",
    "mutation { submitSum(number: 1) { ... on Job { id } } }",
    "mutation { submitSum(number: 1) @include(if: true) { id } }",
    "mutation { submitSum(number: 1) { id @skip(if: false) } }",
    "mutation { submitSum(number: 1) { id id } }",  # merged by the executor
    "mutation { submitSum(number: 1) { deliveries { id } } }",  # a resolver of its own
    "mutation { cancelJob(id: \"x\") { id } }",  # not in ROOT_FIELDS
    "query { functions { name } }",
    "query { __typename }",
    "subscription { jobUpdated(id: \"x\") { id } }",
])
def test_what_takes_the_executor(query: str) -> None:
    schema = build_schema()
    operation = prepared.Prepared(parse(query), None, None)
    assert compiled.compile_plan(schema, operation) is None


@pytest.mark.parametrize("query, inline", [
    (SUBMIT, True), (JOB, True),
    ("mutation ($s: Float) { submitWaitAndReturn(seconds: $s) { input } }", True),
    ("mutation { submitSum(number: 3) { id } }", False),  # a literal
    ("mutation ($s: Float = 3) { submitWaitAndReturn(seconds: $s) { input } }", False),
])
def test_which_arguments_are_coerced_inline(query: str, inline: bool) -> None:
    plan = compiled.compile_plan(build_schema(), prepared.Prepared(parse(query), None, None))
    assert plan is not None
    assert (plan.arguments.fixed is not None) is inline


def test_root_resolvers_read_only_the_context_of_info() -> None:
    """ContextOnly (root_call.py) stands in for Strawberry's Info: each resolver a plan
    calls must read nothing else of it."""
    schema = build_schema()
    for type_name, fields in root_call.ROOT_FIELDS.items():
        for name in fields:
            resolver = root_call.resolver_of(schema, type_name, name)
            assert resolver is not None, name
            uses = set(re.findall(r"\binfo\b(\.\w+)?", inspect.getsource(resolver)))
            assert uses <= {".context", ""}, (name, uses)
