"""BigInt: an integer of any size that GraphQL's 32-bit `Int` cannot carry.

Output is a JSON number with every digit (exact for any client that reads JSON integers
exactly; JavaScript loses digits past 2^53 unless it parses big numbers). Input is an
integer literal, or a JSON integer or decimal string in variables ("12345678901234567890").
"""

from __future__ import annotations

import re
from typing import Any, NewType

import strawberry
from graphql import GraphQLError, IntValueNode, StringValueNode, ValueNode

from gateway.services.errors import InvalidInput

BigInt = NewType("BigInt", int)

MAX_DIGITS = 100  # far beyond any catalog bound; stops absurd numbers before int()
_DECIMAL = re.compile(r"-?[0-9]+")


def _bad(message: str, node: ValueNode | None = None) -> GraphQLError:
    # A GraphQLError, so graphql-core reports the message as it is (not wrapped in
    # "Expected value of type ... but encountered error ...").
    return GraphQLError(f"BigInt: {message}", node, extensions={"code": InvalidInput.code})


def _from_text(text: str, node: ValueNode | None = None) -> int:
    if not _DECIMAL.fullmatch(text):
        raise _bad(f"{text[:40]!r} is not a decimal integer", node)
    if len(text.removeprefix("-")) > MAX_DIGITS:
        raise _bad(f"more than {MAX_DIGITS} digits", node)
    return int(text)


def parse_value(value: Any) -> int:
    """A variable's value: a JSON integer or a decimal string."""
    if isinstance(value, bool):  # bool is an int subclass; true is not 1 here
        raise _bad("expected an integer, got a boolean")
    if isinstance(value, int):
        if abs(value) >= 10**MAX_DIGITS:
            raise _bad(f"more than {MAX_DIGITS} digits")
        return value
    if isinstance(value, str):
        return _from_text(value)
    kind = "a fractional number" if isinstance(value, float) else type(value).__name__
    raise _bad(f"expected an integer or a decimal string, got {kind}")


def parse_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> int:
    if isinstance(node, IntValueNode | StringValueNode):
        return _from_text(node.value, node)
    raise _bad("expected an integer or a decimal string", node)


def serialize(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"BigInt cannot represent {type(value).__name__}")


BIG_INT = strawberry.scalar(
    name="BigInt",
    description="An integer of any size. Output: a JSON number with every digit. Input: an "
    "integer, or its decimal digits as a string.",
    serialize=serialize,
    parse_value=parse_value,
    parse_literal=parse_literal,
)
