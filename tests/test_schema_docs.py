"""The GraphQL schema as clients see it: its shape (names, types, arguments, defaults) is the
snapshot in tests/schema_shape.graphql, so a change to it is a reviewed diff, never a side effect
of moving code around.

After a deliberate change to the schema, write the snapshot anew:
    .venv/bin/python -m tests.test_schema_docs > tests/schema_shape.graphql
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from graphql import DefinitionNode, DocumentNode, GraphQLSchema, NameNode, parse, print_ast, print_schema
from graphql.language import Node, Visitor, visit

from schema import build_schema

SNAPSHOT = Path(__file__).with_name("schema_shape.graphql")


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


def test_the_schema_keeps_the_shape_in_the_snapshot():
    assert shape(build_schema()._schema) == SNAPSHOT.read_text()


if __name__ == "__main__":
    print(shape(build_schema()._schema), end="")
