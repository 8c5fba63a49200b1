"""Compiled plans: a known operation answered without the executor.

A `submitSum`, a `job(id)`: one root field, a few plain fields under it. prepared.py
already skips parsing, validation and Strawberry's extension hooks for known documents;
what was left per request was graphql-core's executor (an execution context, a path and
a resolver call per field, completion by type): in a py-spy profile of submitSum under
wrk, execute() held 33% of the samples, of which the resolver and the job service 11%.
A plan, compiled once per (document,
operationName), does the same steps directly: the executor's own variable and argument
coercion (arguments.py), the field's own resolver (root_call.py), the selected fields read
and serialized by their own types (projection.py). Operations a plan cannot answer exactly
(several root fields, fragments, directives, a field with a resolver below the root, a
root field not in root_call.ROOT_FIELDS) compile to nothing and keep the executor; so does
every request whose variables do not coerce, and every result that is an error, which the
executor then writes from the outcome already obtained (root_call.known_outcome): error
codes, masking and the response are the full path's (answers.py makes the HTTP answer).
tests/integration/with_redis/test_compiled.py sends each operation both ways and
compares the answers byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    OperationType,
    get_operation_ast,
)
from strawberry import Schema

from gateway.graphql import prepared
from gateway.graphql.arguments import RootArguments
from gateway.graphql.projection import Projection, Unsupported
from gateway.graphql.root_call import Outcome, Resolver, resolver_of

MAX_PLANS = 256  # as many as the cache of valid documents holds documents


@dataclass(frozen=True, slots=True)
class Plan:
    key: str  # the root field's response key
    non_null: bool  # null is an error: the executor writes it
    arguments: RootArguments
    resolver: Resolver
    projection: Projection


def compile_plan(schema: Schema, operation: prepared.Prepared) -> Plan | None:
    definition = get_operation_ast(operation.document, operation.operation_name)
    if (definition is None or definition.directives
            or definition.operation not in (OperationType.QUERY, OperationType.MUTATION)):
        return None
    selections = definition.selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], FieldNode):
        return None
    node = selections[0]
    root = (schema._schema.mutation_type if definition.operation is OperationType.MUTATION
            else schema._schema.query_type)
    if root is None or node.directives or node.name.value not in root.fields:
        return None
    resolver = resolver_of(schema, root.name, node.name.value)
    field = schema.get_field_for_type(node.name.value, root.name)
    if resolver is None or field is None:
        return None
    root_field = root.fields[node.name.value]
    result_type = _named_object(root_field.type)
    if result_type is None:
        return None
    try:
        projection = Projection(schema, result_type, node.selection_set)
    except Unsupported:
        return None
    key = node.alias.value if node.alias else node.name.value
    return Plan(key, isinstance(root_field.type, GraphQLNonNull),
                RootArguments(schema, definition, root_field, node, field.arguments),
                resolver, projection)


def _named_object(kind: GraphQLOutputType) -> GraphQLObjectType | None:
    """The object type a root field returns (nullable or not); None for anything else."""
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    return kind if isinstance(kind, GraphQLObjectType) else None


class Plans:
    """One plan (or None: the executor) per known (document, operationName)."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._plans: dict[tuple[int, str | None], tuple[Plan | None, object]] = {}

    def plan(self, operation: prepared.Prepared) -> Plan | None:
        # The document is the cached one (document_cache.py): the same object for the same
        # text while it stays cached, so its id names it (kept alive by the entry).
        key = (id(operation.document), operation.operation_name)
        try:
            return self._plans[key][0]
        except KeyError:
            pass
        if len(self._plans) >= MAX_PLANS:
            self._plans.clear()
        plan = compile_plan(self.schema, operation)
        self._plans[key] = (plan, operation.document)
        return plan


def project(plan: Plan, value: Any) -> dict[str, Any] | Outcome:
    """The response body's data ({"data": ...}) from what the root resolver gave, when
    the plan answers alone; else that value, for the executor to write
    (root_call.known_outcome)."""
    if value is None:
        return Outcome(value) if plan.non_null else {"data": {plan.key: None}}
    try:
        return {"data": {plan.key: plan.projection(value)}}
    except Exception:  # null in a non-null field, a value its type refuses: an error
        return Outcome(value)
