"""Every GraphQL error gets an `extensions.code`; unexpected ones are logged and masked.

| code                        | when                                                        |
|-----------------------------|-------------------------------------------------------------|
| BAD_USER_INPUT              | a value is wrong or missing: type, range, cursor, URL ...   |
| NOT_FOUND                   | unknown function, unknown job (mutations and subscription)  |
| CONFLICT                    | cancel of a job that had already finished                   |
| UNAVAILABLE                 | Redis (or the broker) is unreachable; retry later           |
| GRAPHQL_PARSE_FAILED        | the document is not GraphQL (or has too many tokens)        |
| GRAPHQL_VALIDATION_FAILED   | unknown field, too deep, too many aliases, introspection off |
| BAD_REQUEST                 | no such operationName; an operation the transport refuses    |
| INTERNAL_SERVER_ERROR       | a bug: the message is masked, the details go to the log     |
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import (
    ASTValidationRule,
    GraphQLError,
    ProvidedRequiredArgumentsRule,
    ValuesOfCorrectTypeRule,
)
from strawberry.extensions import MaskErrors
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionContext

from gateway.errors import GatewayError, InvalidInput

log = logging.getLogger("gateway.graphql")

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
INTERNAL = "INTERNAL_SERVER_ERROR"
BAD_REQUEST = "BAD_REQUEST"
# Strawberry's refusals of a request (an unknown operationName, a mutation where only
# subscriptions may go): their messages are safe and useful.
REQUEST_ERRORS = (CannotGetOperationTypeError, InvalidOperationTypeError)
BAD_USER_INPUT = InvalidInput.code


def _tag(errors: list[GraphQLError] | None, code: str) -> None:
    for error in errors or ():
        if not (error.extensions or {}).get("code"):
            error.extensions = {**(error.extensions or {}), "code": code}


class BadLiteralRule(ValuesOfCorrectTypeRule):
    """graphql-core's check of argument literals (`submitSum(number: "x")`), whose errors
    are bad input rather than a malformed document."""

    def report_error(self, error: GraphQLError) -> None:
        _tag([error], BAD_USER_INPUT)
        super().report_error(error)


class MissingArgumentRule(ProvidedRequiredArgumentsRule):
    """A required argument left out (`submitSum { id }`): bad input too."""

    def report_error(self, error: GraphQLError) -> None:
        _tag([error], BAD_USER_INPUT)
        super().report_error(error)


BAD_INPUT_RULES: dict[type[ASTValidationRule], type[ASTValidationRule]] = {
    ValuesOfCorrectTypeRule: BadLiteralRule,
    ProvidedRequiredArgumentsRule: MissingArgumentRule,
}


def origin(error: GraphQLError) -> Exception | None:
    """The exception behind an error; graphql-core wraps a GraphQLError around another."""
    original = error.original_error
    while isinstance(original, GraphQLError):
        original = original.original_error
    return original


def is_unexpected(error: GraphQLError) -> bool:
    """Errors GraphQL itself raised (parse, validation, coercion) carry no original error;
    ours are GatewayErrors. Anything else is a bug, whose message may leak internals."""
    original = origin(error)
    return original is not None and not isinstance(original, (GatewayError, *REQUEST_ERRORS))


class GatewayErrors(MaskErrors):
    """Codes for parse and validation errors, and masking of unexpected errors (codes of
    the rest are set by GatewaySchema.process_errors, which runs before this masks)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message="Internal error.")

    def on_parse(self) -> Iterator[None]:
        yield
        _tag(self.execution_context.pre_execution_errors, PARSE_FAILED)

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        context.validation_rules = tuple(_with_bad_input(rule)
                                         for rule in context.validation_rules)
        yield
        _tag(context.pre_execution_errors, VALIDATION_FAILED)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": INTERNAL}
        return masked


def _with_bad_input(rule: type[ASTValidationRule]) -> type[ASTValidationRule]:
    return BAD_INPUT_RULES.get(rule, rule)


def code_errors(errors: list[GraphQLError]) -> None:
    for error in errors:
        original = origin(error)
        if isinstance(original, GatewayError):
            extensions: dict[str, Any] = {"code": original.code}
            if isinstance(original, InvalidInput) and original.details:
                extensions["details"] = original.details
            error.extensions = {**(error.extensions or {}), **extensions}
            log.info("graphql %s: %s", original.code, original.message)
        elif isinstance(original, REQUEST_ERRORS):
            _tag([error], BAD_REQUEST)
        elif original is not None:
            log.error("unexpected error in a GraphQL operation", exc_info=original)
        else:
            # No original error and no code yet: graphql-core refused a variable's value.
            _tag([error], BAD_USER_INPUT)


class GatewaySchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Replaces Strawberry's default, which logs every error (bad input too) with a
        # traceback.
        code_errors(errors)
