"""Operations whose document is already known good, run on graphql-core directly.

A POSTed query or mutation whose text is in the cache of valid documents
(document_cache.py) has nothing left for Strawberry's per-operation machinery to do:
parsing and validation are done, and the schema's extensions only act on those two steps.
Skipping that machinery (the extension hooks, the request adapter, the execution context)
made a `submitSum` request about a third cheaper. The resolvers, the variable coercion,
the error codes (`GatewaySchema.process_errors`) and the response body are the same ones;
tests/integration/with_redis/test_prepared.py compares both paths request by request.

Anything else (a new document, GET, a batch, a subscription, `extensions` in the body, a
body that is not a JSON object, another content type) goes the full Strawberry way; so
does a persisted-query hash, unless it is known here and names a known-good document
(persisted.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLSchema,
    OperationType,
    execute,
    get_operation_ast,
)
from strawberry.execution import optimized_is_awaitable

from gateway.graphql.document_cache import DocumentCache, ValidDocuments
from gateway.graphql.errors import GatewayErrors
from gateway.graphql.limits import DocumentLimits
from gateway.graphql.persisted import PersistedQueries
from gateway.services import json_input

# Extensions that only act on parsing and validation: with any other one in the schema
# (a tracer, a resolver hook), every operation takes Strawberry's full path.
PARSE_AND_VALIDATE_ONLY = (DocumentCache, DocumentLimits, GatewayErrors)
REQUEST_KEYS = frozenset({"query", "variables", "operationName"})
# Tuples, not `dict | None`: a union written in the check is built again on every call
# (isinstance with one took 0.09 µs, with a tuple 0.03).
_OBJECT_OR_NULL = (dict, type(None))
_TEXT_OR_NULL = (str, type(None))


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs 0.4 µs more
class Prepared:
    document: DocumentNode
    variables: dict[str, Any] | None
    operation_name: str | None


def only_parse_and_validate(extensions: Sequence[Any]) -> bool:
    """True when every extension (a class or a partial of one) is one of ours that only
    acts on parsing and validation."""
    def cls(extension: Any) -> Any:
        return extension.func if isinstance(extension, partial) else extension
    return all(cls(e) in PARSE_AND_VALIDATE_ONLY for e in extensions)


def prepare(documents: ValidDocuments, content_type: str, body: bytes,
            decode: Callable[[bytes], object] = json_input.loads,
            persisted: PersistedQueries | None = None) -> Prepared | None:
    """The operation of a JSON POST body, if its document is known good and it is a query
    or a mutation; None sends the request the full way (which also explains any error).
    `decode` is the view's own JSON decoder (bounded; its InvalidJson is the caller's to
    answer): the standard library's keeps a big integer whole, where orjson would make it
    a float and change the error a client sees."""
    if not content_type.startswith("application/json"):
        return None
    try:
        data = decode(body)
    except json.JSONDecodeError:
        return None
    if persisted is not None and isinstance(data, dict):  # persisted queries (persisted.py):
        data = persisted.known(data, documents)  # a known hash -> its document; or None
    if not isinstance(data, dict) or not data.keys() <= REQUEST_KEYS:
        return None
    query, variables, name = data.get("query"), data.get("variables"), data.get("operationName")
    if (not isinstance(query, str) or not isinstance(variables, _OBJECT_OR_NULL)
            or not isinstance(name, _TEXT_OR_NULL)):
        return None
    document = documents.get(query)
    if document is None:
        return None
    operation = get_operation_ast(document, name)
    if operation is None or operation.operation is OperationType.SUBSCRIPTION:
        return None
    return Prepared(document, variables, name)


async def run(schema: GraphQLSchema, prepared: Prepared, context: Any,
              middleware: Callable[..., Any] | None = None) -> ExecutionResult:
    """Execute as Strawberry's Schema.execute does (same schema, resolvers and
    awaitable check), without its extension hooks. (`middleware`: compiled.py's answer
    for a root field it already resolved.)"""
    result = execute(schema, prepared.document, context_value=context,
                     variable_values=prepared.variables,
                     operation_name=prepared.operation_name,
                     middleware=None if middleware is None else [middleware],
                     is_awaitable=optimized_is_awaitable)  # type: ignore[arg-type]
    if isinstance(result, ExecutionResult):
        return result
    return await result
