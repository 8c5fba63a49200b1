"""GraphQL answers are encoded by orjson, as REST's are, with the standard library's
encoder for what orjson refuses (gateway/graphql/router.py)."""

from __future__ import annotations

import json

import pytest

from gateway.graphql.router import GatewayGraphQL, graphql_app
from tasks.settings import Settings


@pytest.fixture(scope="module")
def view() -> GatewayGraphQL:
    return graphql_app(Settings(_env_file=None))


@pytest.mark.parametrize("data", [
    {"data": {"job": {"id": "j-1", "status": "SUCCEEDED", "result": 6}}},
    {"data": {"job": {"result": {"text": "héllo ✓", "values": [1.5, None, True]}}}},
    {"data": None, "errors": [{"message": "bad", "path": ["job"], "extensions": {}}]},
    {"data": {"job": {"result": 10**30}}},  # beyond 64 bits: json's way
    {"data": {"job": {"result": "\ud800"}}},  # a lone surrogate: json's way
])
def test_answers_decode_to_the_same_value(view: GatewayGraphQL, data: object) -> None:
    encoded = view.encode_json(data)
    assert isinstance(encoded, str)  # a WebSocket frame of text, never binary
    assert json.loads(encoded) == data
