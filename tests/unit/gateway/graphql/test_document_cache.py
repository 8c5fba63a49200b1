"""The cache of valid GraphQL documents: a document is parsed and validated once; one that
fails (syntax, unknown field, a limit) is refused every time and never kept."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
import strawberry.schema.schema as strawberry_schema

from gateway.graphql.document_cache import MAX_DOCUMENT_CHARS, DocumentCache, ValidDocuments
from gateway.graphql.limits import DocumentLimits
from gateway.graphql.schema import build_schema
from tasks.settings import Settings


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many times Strawberry parsed and validated a document."""
    counts = {"parse": 0, "validate": 0}

    def counting(name: str, real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(strawberry_schema, "parse", counting("parse", strawberry_schema.parse))
    monkeypatch.setattr(strawberry_schema, "validate_document",
                        counting("validate", strawberry_schema.validate_document))
    return counts


def schema_with(documents: ValidDocuments) -> Any:
    settings = Settings(_env_file=None, graphql_max_depth=3)
    return build_schema([partial(DocumentCache, documents), DocumentLimits.factory(settings)])


def test_a_valid_document_is_parsed_and_validated_once(counted: dict[str, int]) -> None:
    documents = ValidDocuments()
    schema = schema_with(documents)
    for _ in range(3):
        result = schema.execute_sync("{ __typename }")
        assert result.errors is None and result.data == {"__typename": "Query"}
    assert counted == {"parse": 1, "validate": 1} and len(documents) == 1


@pytest.mark.parametrize("query", [
    "{ __typename ",  # syntax
    "{ nope }",  # unknown field
    "{ }",  # empty selection set
    "{ jobs { edges { node { deliveries { id } } } } }",  # deeper than 3
])
def test_a_refused_document_is_refused_every_time(query: str,
                                                  counted: dict[str, int]) -> None:
    documents = ValidDocuments()
    schema = schema_with(documents)
    first = schema.execute_sync(query)
    second = schema.execute_sync(query)
    assert first.errors and second.errors
    assert [e.message for e in first.errors] == [e.message for e in second.errors]
    assert len(documents) == 0 and counted["parse"] == 2


def test_the_cache_is_bounded() -> None:
    documents = ValidDocuments(max_documents=2)
    schema = schema_with(documents)
    for alias in ("a", "b", "c"):
        assert schema.execute_sync(f"{{ {alias}: __typename }}").errors is None
    assert len(documents) == 2 and documents.get("{ a: __typename }") is None
    long_query = "{ __typename }" + " " * MAX_DOCUMENT_CHARS
    assert schema.execute_sync(long_query).errors is None
    assert documents.get(long_query) is None
