"""Every GraphQL error gets an `extensions.code`; unexpected ones are logged and masked.

| code                        | when                                                        |
|-----------------------------|-------------------------------------------------------------|
| BAD_USER_INPUT              | a value is wrong or missing: type, range, cursor, URL ...   |
| NOT_FOUND                   | unknown function, unknown job (mutations and subscription)  |
| CONFLICT                    | cancel of a finished job; an idempotencyKey reused; a       |
|                             | webhook URL registered twice (extensions.existingId)        |
| UNAUTHENTICATED             | (subscriptions) no valid API key; HTTP answers 401 first    |
| RATE_LIMITED                | the API key's rate limit is spent; retry later              |
| UNAVAILABLE                 | Redis (or the broker) is unreachable, the queue is full, or |
|                             | too few replicas confirmed a submit (extensions.jobId)      |
| GRAPHQL_PARSE_FAILED        | the document is not GraphQL (or has too many tokens)        |
| GRAPHQL_VALIDATION_FAILED   | unknown field, too deep, too many aliases, introspection off |
| BAD_REQUEST                 | an operation the transport refuses (HTTP answers 400 first) |
| INTERNAL_SERVER_ERROR       | a bug: the message is masked, the details go to the log     |
| PERSISTED_QUERY_NOT_FOUND   | a persisted query's hash is unknown: the client sends the    |
|                             | document next (persisted_request.py; HTTP 200, no data)     |
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import (
    BREAK,
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    ProvidedRequiredArgumentsRule,
    SelectionSetNode,
    ValuesOfCorrectTypeRule,
    Visitor,
    visit,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionContext

from gateway.services.errors import GatewayError, InvalidInput

log = logging.getLogger("gateway.graphql")

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
INTERNAL = "INTERNAL_SERVER_ERROR"
MASKED_MESSAGE = "Internal error."
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
    """The exception behind an error; graphql-core wraps a GraphQLError around another.
    Errors GraphQL itself raises (parse, validation, coercion) have none; ours are
    GatewayErrors; anything else is a bug, whose message may leak internals."""
    original = error.original_error
    while isinstance(original, GraphQLError):
        original = original.original_error
    return original


class GatewayErrors(SchemaExtension):
    """Codes for parse and validation errors; bad-input codes for bad argument literals."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        cached = context.graphql_document is not None  # known good (document_cache.py)
        yield
        if (not cached and context.pre_execution_errors is None
                and context.graphql_document is not None):
            empty = _empty_selection_set(context.graphql_document)
            if empty is not None:
                # graphql-core 3.3 parses `{ }`, which the spec calls a syntax error and
                # Strawberry's depth limiter crashes on: refuse it here, before validation.
                context.pre_execution_errors = [GraphQLError(
                    "Syntax Error: a selection set must name at least one field.", empty)]
        _tag(context.pre_execution_errors, PARSE_FAILED)

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        context.validation_rules = tuple(BAD_INPUT_RULES.get(rule, rule)
                                         for rule in context.validation_rules)
        yield
        _tag(context.pre_execution_errors, VALIDATION_FAILED)


def _empty_selection_set(document: DocumentNode) -> SelectionSetNode | None:
    found: list[SelectionSetNode] = []

    class Finder(Visitor):
        def enter_selection_set(self, node: SelectionSetNode, *_: object) -> object:
            if not node.selections:
                found.append(node)
                return BREAK
            return None

    visit(document, Finder())
    return found[0] if found else None


def code_errors(errors: list[GraphQLError]) -> None:
    """Give each error its code; mask and log unexpected ones. Strawberry calls this for
    every error on every path, including errors raised by validation rules, which its
    MaskErrors extension (an on_operation hook) does not see."""
    for error in errors:
        original = origin(error)
        if isinstance(original, GatewayError):
            extensions: dict[str, Any] = {"code": original.code}
            if isinstance(original, InvalidInput) and original.details:
                extensions["details"] = original.details
            for name, value in original.fields.items():
                head, *rest = name.split("_")
                extensions[head + "".join(part.title() for part in rest)] = value
            error.extensions = {**(error.extensions or {}), **extensions}
            log.info("graphql %s: %s", original.code, original.message)
        elif isinstance(original, REQUEST_ERRORS):
            _tag([error], BAD_REQUEST)
        elif original is not None:
            log.error("unexpected error in a GraphQL operation: %s", error.message,
                      exc_info=original)
            # In place: the error object is what the transports format.
            error.message = MASKED_MESSAGE
            error.extensions = {"code": INTERNAL}
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
