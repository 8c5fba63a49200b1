"""The answer to a selection set, read straight off a resolver's result.

graphql-core completes each field of a `Job` through its executor: a resolver call per
field (Strawberry's default resolver, a getattr), a path, a completion step per type. For
a selection of plain fields (no resolver of their own, no fragments, no directives, no
response key twice) the same answer is one function per field: the attribute the default
resolver reads, serialized by the field's own GraphQL type (`serialize` of its scalar or
enum, as graphql-core's complete_leaf_value calls it). compiled.py builds a `Projection`
once per known operation; anything it cannot read exactly raises `Unsupported` then, and
the operation keeps the executor.

A value the executor would answer with an error (null in a non-null field, a value its
scalar refuses) raises `NotProjected`: the caller hands that one result to the executor,
which writes the error and its null exactly as always.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    FieldNode,
    GraphQLEnumType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    SelectionSetNode,
)
from graphql.pyutils import Undefined
from strawberry import Schema

Reader = Callable[[Any], Any]


class Unsupported(Exception):
    """The selection needs the executor (a fragment, a directive, a field resolver...)."""


class NotProjected(Exception):
    """This result would be an error: the executor answers it."""


def _field(convert: Reader, non_null: bool, attribute: str) -> Reader:
    """A field's reader: its attribute, null where the type allows it, else converted."""
    def read(source: Any) -> Any:
        value = getattr(source, attribute)
        if value is None:
            if non_null:
                raise NotProjected(attribute)
            return None
        return convert(value)
    return read


def _serializer(serialize: Callable[[Any], Any], attribute: str) -> Reader:
    """A leaf's conversion: its type's `serialize`; a value it refuses is an error."""
    def convert(value: Any) -> Any:
        serialized = serialize(value)
        if serialized is None or serialized is Undefined:
            raise NotProjected(attribute)
        return serialized
    return convert


def _enum_serializer(kind: GraphQLEnumType, attribute: str) -> Reader:
    """An enum's conversion: a member of the enum's Python class by a table built once
    (Strawberry's enum `serialize` compares the value with each member's in turn: 1.0 µs
    for a SUCCEEDED job); anything else by `serialize`, as before."""
    serialize = _serializer(kind.serialize, attribute)
    members: Any = getattr(kind, "wrapped_cls", None)
    if members is None:
        return serialize
    names = {member: kind.serialize(member) for member in members}

    def convert(value: Any) -> Any:
        return names[value] if type(value) is members else serialize(value)
    return convert


class Projection:
    """Response keys, in the document's order, each with its reader."""

    def __init__(self, schema: Schema, parent: GraphQLObjectType,
                 selection_set: SelectionSetNode | None) -> None:
        if selection_set is None:
            raise Unsupported("an object type needs a selection set")
        self.typename = parent.name
        self.readers: list[tuple[str, Reader | None]] = []
        seen: set[str] = set()
        for node in selection_set.selections:
            if not isinstance(node, FieldNode) or node.directives:
                raise Unsupported("fragments and directives take the executor")
            key = node.alias.value if node.alias else node.name.value
            if key in seen:
                raise Unsupported("a response key twice (fields merged by the executor)")
            seen.add(key)
            self.readers.append((key, self._reader(schema, parent, node)))

    def _reader(self, schema: Schema, parent: GraphQLObjectType,
                node: FieldNode) -> Reader | None:
        name = node.name.value
        if name == "__typename":
            return None
        definition = parent.fields.get(name)
        field = schema.get_field_for_type(name, parent.name)
        if definition is None or field is None or not field.is_basic_field or node.arguments:
            raise Unsupported(f"{parent.name}.{name} has a resolver or arguments")
        kind: GraphQLOutputType = definition.type
        non_null = isinstance(kind, GraphQLNonNull)
        if isinstance(kind, GraphQLNonNull):
            kind = kind.of_type
        if isinstance(kind, GraphQLScalarType | GraphQLEnumType):
            if node.selection_set is not None:
                raise Unsupported("a leaf with a selection set")
            convert = (_enum_serializer(kind, field.python_name)
                       if isinstance(kind, GraphQLEnumType)
                       else _serializer(kind.serialize, field.python_name))
            return _field(convert, non_null, field.python_name)
        if isinstance(kind, GraphQLObjectType):
            return _field(Projection(schema, kind, node.selection_set), non_null,
                          field.python_name)
        raise Unsupported(f"{parent.name}.{name}: lists, interfaces and unions take the "
                          "executor")

    def __call__(self, source: Any) -> dict[str, Any]:
        return {key: self.typename if read is None else read(source)
                for key, read in self.readers}
