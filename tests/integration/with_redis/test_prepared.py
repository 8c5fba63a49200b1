"""Known-good GraphQL documents run on graphql-core directly (gateway/graphql/prepared.py)
and answer exactly as Strawberry's full path does: each request is sent both ways, in
process, on a real Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from functools import partial
from typing import Any

import httpx
import pytest
from strawberry.extensions import SchemaExtension

from gateway.app import build_api
from gateway.graphql import answers, prepared
from gateway.graphql.document_cache import DocumentCache, ValidDocuments
from gateway.graphql.errors import GatewayErrors
from gateway.graphql.limits import DocumentLimits
from gateway.graphql.router import GatewayGraphQL
from tasks.redis.keys import JOB_PREFIX
from tasks.settings import Settings
from tests.support.helpers import normalized
from tests.support.servers import RedisServer

KEY = "prepared-path-test-key-0123456789"
AUTH = {"X-API-Key": KEY}
JSON = "application/json"
SUBMIT = "mutation ($n: BigInt!) { submitSum(number: $n) { id status input } }"
TWO_OPS = ('query J { job(id: "00000000-0000-4000-8000-000000000000") { id } } '
           "query F { functions { name } }")


def body(query: str, variables: Any = None, name: Any = None, **extra: Any) -> bytes:
    return json.dumps({"query": query, "variables": variables, "operationName": name,
                       **extra}).encode()


# (headers, content type, body, whether the prepared path answers it)
CASES: list[tuple[dict[str, str], str, bytes, bool]] = [
    (AUTH, JSON, body(SUBMIT, {"n": 3}), True),
    (AUTH, JSON, body(SUBMIT, {"n": -1}), True),  # the service refuses it: BAD_USER_INPUT
    (AUTH, JSON, body(SUBMIT, {"n": "abc"}), True),  # variable coercion error
    (AUTH, JSON, body(SUBMIT, {}), True),  # missing variable
    (AUTH, JSON, body(SUBMIT, {"n": 10**40}), True),  # out of BigInt's range
    (AUTH, JSON, body(SUBMIT, [3]), False),  # variables not an object
    (AUTH, JSON, body(SUBMIT, {"n": 3}, extensions={"x": 1}), False),
    (AUTH, "text/plain", body(SUBMIT, {"n": 3}), False),
    (AUTH, JSON, body(TWO_OPS, name="F"), True),
    (AUTH, JSON, body(TWO_OPS, name="J"), True),
    (AUTH, JSON, body(TWO_OPS, name="nope"), False),
    (AUTH, JSON, body(TWO_OPS), False),  # which operation? Strawberry says
    (AUTH, JSON, body("subscription { jobUpdated(id: \"x\") { status } }"), False),
    ({}, JSON, body(SUBMIT, {"n": 3}), False),  # no key: 401 before any GraphQL runs
    ({"X-API-Key": "wrong-key-0123456789"}, JSON, body(SUBMIT, {"n": 3}), False),
    (AUTH, JSON, b"[" + body(SUBMIT, {"n": 3}) + b"]", False),  # a batch
]




def test_prepared_and_full_path_answer_alike(own_redis: RedisServer,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None, redis_url=own_redis.url, api_keys=f"acme:{KEY}")
    api = build_api(settings)
    ran: list[bool] = []
    real_run = answers.answer

    async def counting_run(*args: Any) -> Any:
        ran.append(True)
        return await real_run(*args)

    monkeypatch.setattr(answers, "answer", counting_run)

    async def compare() -> None:
        async with api.router.lifespan_context(api):
            graphql: GatewayGraphQL = api.state.graphql
            assert graphql.prepared_path
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api),
                                         base_url="http://gw") as client:
                for headers, content_type, content, fast in CASES:
                    headers = {**headers, "Content-Type": content_type}
                    # The full path first: it also puts a good document in the cache.
                    graphql.prepared_path = False
                    full = await client.post("/graphql", headers=headers, content=content)
                    graphql.prepared_path = True
                    ran.clear()
                    fast_answer = await client.post("/graphql", headers=headers,
                                                    content=content)
                    assert normalized(fast_answer) == normalized(full), content
                    assert bool(ran) is fast, content  # the case took the path it claims
                    assert full.status_code < 500, full.text
            # Only accepted submits made jobs, each a real QUEUED record with its input.
            redis = own_redis.client()
            records = [redis.hmget(key, "status", "input") for key in redis.keys(f"{JOB_PREFIX}*")]
            assert records and all(r == [b"QUEUED", b'{"number":3}'] for r in records), records

    asyncio.run(compare())


def test_another_extension_turns_the_prepared_path_off() -> None:
    class Tracer(SchemaExtension):
        def on_execute(self) -> Iterator[None]:
            yield

    ours = [partial(DocumentCache, ValidDocuments()), partial(DocumentLimits, 10, ()),
            GatewayErrors]
    assert prepared.only_parse_and_validate(ours)
    assert not prepared.only_parse_and_validate([*ours, Tracer])
    assert not prepared.only_parse_and_validate([partial(Tracer)])


@pytest.mark.parametrize("content_type, content", [
    ("application/json", b"{"),
    ("application/json", b'"a string"'),
    ("application/json", b'{"query": 1}'),
    ("application/json", b'{"query": "{ functions { name } }", "operationName": 3}'),
    ("application/json", b'{"query": "{ functions { name } }"}'),  # not cached yet
    ("application/x-www-form-urlencoded", b"query=x"),
])
def test_what_the_prepared_path_leaves_to_strawberry(content_type: str, content: bytes) -> None:
    assert prepared.prepare(ValidDocuments(), content_type, content) is None
