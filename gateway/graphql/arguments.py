"""A root field's arguments, coerced as the executor and Strawberry coerce them.

The full path's three steps are graphql-core's get_variable_values (the request's
variables against the operation's definitions), get_argument_values (the field's literals
and variables against its arguments) and Strawberry's convert_arguments (GraphQL names to
the resolver's parameters, values to their Python types); for a one-variable submit they
cost more than the rest of a plan's work together. `RootArguments` does them once per
request with those same functions, or, for the common shape (every argument a literal
fixed once, a default, or a variable of a scalar type without a default of its own), the
same steps inline: a scalar's own `parse_value`, the argument's default when its variable
was left out, and no conversion, which Strawberry only does for non-scalar types.

Any request that does not coerce cleanly gets `None`: the executor answers it with its
own errors, and nothing has run yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLNonNull,
    GraphQLScalarType,
    OperationDefinitionNode,
    VariableNode,
    type_from_ast,
)
from graphql.execution.values import (
    get_argument_values,
    get_variable_values,
    maybe_use_default_value,
)
from graphql.pyutils import Undefined
from strawberry import Schema
from strawberry.types.arguments import StrawberryArgument, convert_arguments
from strawberry.types.base import StrawberryMaybe

# What graphql-core's execute() allows (its max_coercion_errors default).
MAX_COERCION_ERRORS = 50
IMMUTABLE = (str, int, float, bool, type(None))


@dataclass(frozen=True, slots=True)
class FromVariable:
    parameter: str  # the resolver's
    variable: str
    scalar: GraphQLScalarType
    variable_non_null: bool
    argument_non_null: bool
    default: Any  # the argument's, when the variable is left out (Undefined: none)


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
        self.fixed: dict[str, Any] | None = None
        self.variables: list[FromVariable] = []
        self._inline(operation)

    def coerce(self, variables: dict[str, Any] | None) -> dict[str, Any] | None:
        """The resolver's keyword arguments, or None for the executor to refuse."""
        if self.fixed is not None:
            return self._inline_values(variables or {})
        values = get_variable_values(self.schema._schema, self.variable_definitions,
                                     variables or {}, MAX_COERCION_ERRORS)
        if isinstance(values, list):
            return None
        try:
            raw = get_argument_values(self.definition, self.node, values)
            return convert_arguments(raw, self.arguments, self.schema.schema_converter
                                     .scalar_registry, self.schema.config)
        except Exception:  # whatever it is, the executor says it the same way
            return None

    def _inline_values(self, variables: dict[str, Any]) -> dict[str, Any] | None:
        assert self.fixed is not None
        values = dict(self.fixed)
        for v in self.variables:
            value = variables.get(v.variable, Undefined)
            if value is Undefined:
                if v.variable_non_null or (v.argument_non_null and v.default is Undefined):
                    return None
                if v.default is not Undefined:
                    values[v.parameter] = v.default
                continue
            if value is None:
                if v.variable_non_null or v.argument_non_null:
                    return None
                values[v.parameter] = None
                continue
            try:
                coerced = v.scalar.parse_value(value)
            except Exception:
                return None
            if coerced is Undefined:
                return None
            values[v.parameter] = coerced
        return values

    def _inline(self, operation: OperationDefinitionNode) -> None:
        """Set `fixed` and `variables` when every argument allows the inline way."""
        schema = self.schema._schema
        convert = self.schema.config.name_converter.from_argument
        parameters = {convert(a): a for a in self.arguments}
        if any(isinstance(a.type, StrawberryMaybe) for a in self.arguments):
            return
        definitions = {d.variable.name.value: d for d in self.variable_definitions}
        given = {a.name.value: a.value for a in self.node.arguments or ()}
        fixed: dict[str, Any] = {}
        for name, argument in self.definition.args.items():
            kind = argument.type
            scalar = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
            parameter = parameters.get(name)
            if not isinstance(scalar, GraphQLScalarType) or parameter is None:
                return
            value_node = given.get(name)
            defaults: dict[str, Any] = {}
            try:
                maybe_use_default_value(defaults, name, argument, _refuse)
            except _Refused:
                return
            default = defaults.get(name, Undefined)
            if isinstance(value_node, VariableNode):
                definition = definitions.get(value_node.name.value)
                if definition is None or definition.default_value is not None:
                    return
                variable_type = type_from_ast(schema, definition.type)
                if variable_type is None:
                    return
                variable_non_null = isinstance(variable_type, GraphQLNonNull)
                variable_scalar = (variable_type.of_type
                                   if isinstance(variable_type, GraphQLNonNull)
                                   else variable_type)
                if variable_scalar is not scalar:
                    return
                self.variables.append(FromVariable(
                    parameter.python_name, value_node.name.value, scalar,
                    variable_non_null, isinstance(kind, GraphQLNonNull), default))
            elif value_node is not None:
                return  # a literal: the general way (it is coerced once per request)
            elif default is not Undefined:
                if not isinstance(default, IMMUTABLE):
                    return
                fixed[parameter.python_name] = default
            elif isinstance(kind, GraphQLNonNull):
                return  # required and not given: the executor's error
        self.fixed = fixed


class _Refused(Exception):
    pass


def _refuse(*_: object) -> None:
    raise _Refused
