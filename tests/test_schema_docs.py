"""The GraphQL schema as clients see it. Every type, field, argument, input field and enum value
says what it means (a new one without a description fails here), and its shape (names, types,
arguments, defaults) is the snapshot in tests/schema_shape.graphql, so a change to it is a
reviewed diff, never a side effect of moving code around.

After a deliberate change to the schema, write the snapshot anew:
    .venv/bin/python -m tests.test_schema_docs > tests/schema_shape.graphql
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from graphql import (
    DefinitionNode,
    DocumentNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    NameNode,
    parse,
    print_ast,
    print_schema,
)
from graphql.language import Node, Visitor, visit

from schema import build_schema

SNAPSHOT = Path(__file__).with_name("schema_shape.graphql")
BUILT_IN = frozenset({"String", "Int", "Boolean", "ID", "Float"})
# Every part of the schema when all of it was first described (issue 12; fields include input fields).
RECORD = {"types": 63, "fields": 250, "arguments": 38, "enum values": 34}


def documented(schema: GraphQLSchema) -> Iterator[tuple[str, str, str | None]]:
    """(kind, coordinate, description) for every part a client can read about: each named type
    that is ours (not introspection's nor a built-in scalar), and its fields, arguments, input
    fields and enum values."""
    for name, named in schema.type_map.items():
        if name.startswith("__") or name in BUILT_IN:
            continue
        yield "types", name, named.description
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in named.fields.items():
                yield "fields", f"{name}.{field_name}", field.description
                for arg_name, arg in field.args.items():
                    yield "arguments", f"{name}.{field_name}({arg_name}:)", arg.description
        elif isinstance(named, GraphQLInputObjectType):
            for field_name, input_field in named.fields.items():
                yield "fields", f"{name}.{field_name}", input_field.description
        elif isinstance(named, GraphQLEnumType):
            for value_name, value in named.values.items():
                yield "enum values", f"{name}.{value_name}", value.description


class _Undescribed(Visitor):
    def enter(self, node: Node, *_: object) -> Node | None:
        described: Any = node  # a definition, a field, an argument, an enum value
        return dataclasses.replace(described, description=None) if hasattr(node, "description") else None


def shape(schema: GraphQLSchema) -> str:
    """The schema's SDL without descriptions, its types in name order (their fields as declared)."""
    document = visit(parse(print_schema(schema)), _Undescribed())
    assert isinstance(document, DocumentNode)
    named = sorted(document.definitions, key=_name)
    return print_ast(dataclasses.replace(document, definitions=tuple(named))) + "\n"


def _name(definition: DefinitionNode) -> str:
    name = getattr(definition, "name", None)  # a type's or a directive's; a `schema {}` has none
    return name.value if isinstance(name, NameNode) else ""


def test_every_part_of_the_schema_is_described():
    parts = list(documented(build_schema()._schema))
    assert [where for _, where, description in parts if not (description and description.strip())] == []
    counts = {kind: sum(1 for k, _, _ in parts if k == kind) for kind in RECORD}
    print(f"described: {counts}")
    assert all(counts[kind] >= RECORD[kind] for kind in RECORD), counts  # the walk still sees everything


def test_the_schema_keeps_the_shape_in_the_snapshot():
    assert shape(build_schema()._schema) == SNAPSHOT.read_text()


if __name__ == "__main__":
    print(shape(build_schema()._schema), end="")
