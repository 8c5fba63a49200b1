"""A known operation's root field: its own resolver, called directly.

The resolver is the schema's (gateway/graphql/schema.py), so the job service method it
calls, the caller it passes (tenancy) and what it makes of the record are the same on
both paths. Only resolvers in ROOT_FIELDS are called this way: each reads nothing of its
`info` but `info.context`, which is all `ContextOnly` has.

When the call raises, or its result cannot be projected (projection.py), the executor
writes the answer: `known_outcome` is a graphql-core middleware that answers the root
field with what the call already gave (or raises what it raised) instead of calling the
resolver again, so nothing runs twice and the errors are the executor's own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLResolveInfo
from strawberry import Schema

# Root fields whose resolvers read only info.context (checked by a test against the
# resolvers' source).
ROOT_FIELDS = {
    "Mutation": frozenset({"submitSum", "submitWaitAndReturn", "submitJob"}),
    "Query": frozenset({"job"}),
}


@dataclass(slots=True)  # one per request: not frozen, 0.1 µs less
class ContextOnly:
    context: Any


Resolver = Callable[..., Awaitable[Any]]


def resolver_of(schema: Schema, type_name: str, field_name: str) -> Resolver | None:
    """The resolver function behind a root field, when it may be called directly."""
    if field_name not in ROOT_FIELDS.get(type_name, ()):
        return None
    field = schema.get_field_for_type(field_name, type_name)
    if field is None or field.base_resolver is None or field.extensions:
        return None
    function = field.base_resolver.wrapped_func
    return function if callable(function) else None


@dataclass(frozen=True, slots=True)
class Outcome:
    value: Any = None
    error: BaseException | None = None


def known_outcome(outcome: Outcome) -> Callable[..., Any]:
    """Middleware: the root field answers with `outcome`; every other field resolves as
    usual."""
    def middleware(next_: Callable[..., Any], root: Any, info: GraphQLResolveInfo[Any],
                   **arguments: Any) -> Any:
        if info.path.prev is not None:
            return next_(root, info, **arguments)
        if outcome.error is not None:
            raise outcome.error
        return outcome.value
    return middleware
