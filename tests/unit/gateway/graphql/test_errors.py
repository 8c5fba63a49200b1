"""The error machinery on a tiny schema: an unexpected exception is masked (its message
may hold internals) and logged; the gateway's own errors keep message and code."""

from __future__ import annotations

import logging

import pytest
import strawberry
from graphql import ASTValidationRule, ValidationContext
from strawberry.extensions import AddValidationRules

from gateway.graphql.errors import GatewayErrors, GatewaySchema
from gateway.services.errors import Conflict, InvalidInput, Unavailable


@strawberry.type
class Query:
    @strawberry.field
    def broken(self) -> str:
        raise RuntimeError("password=hunter2 at /srv/secret.py")

    @strawberry.field
    def refused(self, kind: str) -> str:
        raise {"input": InvalidInput("x: too big", [{"loc": ["x"]}]),
               "conflict": Conflict("already ended"),
               "down": Unavailable("the job store is unavailable")}[kind]


schema = GatewaySchema(query=Query, extensions=[GatewayErrors])


async def test_unexpected_errors_are_masked_and_logged(caplog: pytest.LogCaptureFixture
                                                       ) -> None:
    with caplog.at_level(logging.ERROR, logger="gateway.graphql"):
        result = await schema.execute("{ broken }")
    assert result.errors is not None
    [error] = [e.formatted for e in result.errors]
    assert error["message"] == "Internal error."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "hunter2" not in str(error)
    assert "hunter2" in caplog.text  # the operator still sees what happened


@pytest.mark.parametrize(("kind", "code", "message"), [
    ("input", "BAD_USER_INPUT", "x: too big"),
    ("conflict", "CONFLICT", "already ended"),
    ("down", "UNAVAILABLE", "the job store is unavailable"),
])
async def test_gateway_errors_keep_message_and_code(kind: str, code: str, message: str
                                                    ) -> None:
    result = await schema.execute('query($k: String!) { refused(kind: $k) }',
                                  variable_values={"k": kind})
    assert result.errors is not None
    [error] = [e.formatted for e in result.errors]
    assert error["message"] == message and error["extensions"]["code"] == code


class CrashingRule(ASTValidationRule):
    def __init__(self, context: ValidationContext) -> None:
        raise ValueError("max() arg is an empty sequence")  # like a buggy limiter


async def test_a_crashing_validation_rule_is_masked_too() -> None:
    crashing = GatewaySchema(query=Query, extensions=[
        GatewayErrors, lambda: AddValidationRules([CrashingRule])])
    result = await crashing.execute("{ broken }")
    assert result.errors is not None
    [error] = [e.formatted for e in result.errors]
    assert error == {"message": "Internal error.",
                     "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
