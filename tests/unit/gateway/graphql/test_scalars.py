"""The BigInt scalar (gateway/graphql/scalars.py)."""

from __future__ import annotations

import pytest
from graphql import GraphQLError, IntValueNode, StringValueNode

from gateway.graphql.scalars import parse_literal, parse_value, serialize


@pytest.mark.parametrize(("raw", "value"), [
    (0, 0), (50_000_000, 50_000_000), (-3, -3), (10**30, 10**30),
    ("1250000025000000", 1250000025000000), ("-7", -7), ("9" * 100, int("9" * 100)),
])
def test_bigint_accepts_integers_and_digit_strings(raw: object, value: int) -> None:
    assert parse_value(raw) == value


@pytest.mark.parametrize("raw", [True, 1.0, 2.5, "1e3", " 5", "5 ", "0x10", "", "-",
                                 "1_000", "9" * 101, 10**101, None, [1], {"n": 1}])
def test_bigint_refuses_everything_else(raw: object) -> None:
    with pytest.raises(GraphQLError, match="BigInt") as raised:
        parse_value(raw)
    assert raised.value.extensions == {"code": "BAD_USER_INPUT"}


def test_bigint_literals_and_output() -> None:
    assert parse_literal(IntValueNode(value="123456789012345678901234567890")) == \
        123456789012345678901234567890
    assert parse_literal(StringValueNode(value="42")) == 42
    with pytest.raises(GraphQLError):
        parse_literal(StringValueNode(value="4.2"))
    assert serialize(1250000025000000) == 1250000025000000
    with pytest.raises(TypeError):
        serialize(True)
