"""Cost limits of a GraphQL document (depth, aliases, tokens) and the introspection switch,
with the default settings and with strict ones."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from graphql import get_introspection_query

from tests.support.graphql_helpers import data, index_size, only_error, post
from tests.support.launcher import Launcher
from tests.support.servers import RedisServer


@pytest.fixture(scope="module")
def strict(module_launch: Launcher, env: dict[str, str]) -> Iterator[httpx.Client]:
    overrides = {"GRAPHQL_INTROSPECTION": "false", "GRAPHQL_MAX_DEPTH": "2",
                 "GRAPHQL_MAX_ALIASES": "2", "GRAPHQL_MAX_TOKENS": "100"}
    gateway = module_launch.gateway({**env, **overrides}, require_workers=False)
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        yield client


def aliases(n: int) -> str:
    return "{ " + " ".join(f"f{i}: functions {{ name }}" for i in range(n)) + " }"


def test_default_limits_allow_graphiql_and_real_queries(client: httpx.Client) -> None:
    # GraphiQL's own introspection query is deep (ofType chains) and long.
    full = get_introspection_query(descriptions=True, specified_by_url=True,
                                   directive_is_repeatable=True, schema_description=True,
                                   input_value_deprecation=True)
    assert data(client, full)["__schema"]["queryType"]["name"] == "Query"
    assert len(data(client, aliases(15))) == 15


def test_default_limits_refuse_too_many_aliases_and_tokens(
    client: httpx.Client, redis_server: RedisServer
) -> None:
    error = only_error(post(client, aliases(16)))
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert error["message"] == "16 aliases found. Allowed: 15"

    before = index_size(redis_server)
    huge = "mutation { submitSum(number: 1) { " + "id " * 2100 + "} }"
    error = only_error(post(client, huge))
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert "more than 2000 tokens" in error["message"]
    assert index_size(redis_server) == before


def test_strict_limits(strict: httpx.Client) -> None:
    # Depth counts the fields that have a selection of their own: jobs, edges, node.
    ok = "{ jobs(first: 1) { edges { cursor } } }"
    assert "jobs" in data(strict, ok)
    deep = "{ jobs(first: 1) { edges { node { id } } } }"
    error = only_error(post(strict, deep))
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "exceeds maximum operation depth of 2" in error["message"]

    error = only_error(post(strict, aliases(3)))
    assert error["message"] == "3 aliases found. Allowed: 2"

    error = only_error(post(strict, "{ functions { " + "name " * 100 + "} }"))
    assert "more than 100 tokens" in error["message"]


def test_introspection_switched_off(strict: httpx.Client) -> None:
    for query in ("{ __schema { types { name } } }", '{ __type(name: "Job") { name } }'):
        error = post(strict, query)["errors"][0]
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "introspection has been disabled" in error["message"]
    # `__typename` is not introspection of the schema; ordinary queries still work.
    assert data(strict, "{ functions { __typename name } }")["functions"]
    # Without introspection, no "did you mean" hints reveal field names either.
    error = only_error(post(strict, "{ function { name } }"))
    assert "Did you mean" not in error["message"]
