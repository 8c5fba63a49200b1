"""A root field's arguments, coerced as the executor and Strawberry coerce them.

The same three steps as the full path, by the same functions: graphql-core's
get_variable_values (the request's variables against the operation's definitions),
get_argument_values (the field's literals and variables against its arguments), then
Strawberry's convert_arguments (GraphQL names to the resolver's parameters, values to
their Python types). The difference is only that it happens once per request with
nothing around it. A request whose variables or arguments do not coerce gets `None`:
the executor answers it, with its own errors, and nothing has run yet.
"""

from __future__ import annotations

from typing import Any

from graphql import FieldNode, GraphQLError, GraphQLField, OperationDefinitionNode
from graphql.execution.values import get_argument_values, get_variable_values
from strawberry import Schema
from strawberry.types.arguments import StrawberryArgument, convert_arguments

# What graphql-core's execute() allows (its max_coercion_errors default).
MAX_COERCION_ERRORS = 50


class RootArguments:
    """The coercion of one known operation's root field."""

    def __init__(self, schema: Schema, operation: OperationDefinitionNode,
                 definition: GraphQLField, node: FieldNode,
                 arguments: list[StrawberryArgument]) -> None:
        self.schema = schema
        self.variable_definitions = operation.variable_definitions or ()
        self.definition = definition
        self.node = node
        self.arguments = arguments

    def coerce(self, variables: dict[str, Any] | None) -> dict[str, Any] | None:
        """The resolver's keyword arguments, or None for the executor to refuse."""
        values = get_variable_values(self.schema._schema, self.variable_definitions,
                                     variables or {}, MAX_COERCION_ERRORS)
        if isinstance(values, list):
            return None
        try:
            raw = get_argument_values(self.definition, self.node, values)
            return convert_arguments(raw, self.arguments, self.schema.schema_converter
                                     .scalar_registry, self.schema.config)
        except (GraphQLError, ValueError, TypeError):
            return None
