"""GraphQL operations in /metrics (how long each took, by the root fields it selects and its type)
and, while tracing, in a span each, named the same way (`graphql mutation moveOrder`).

The labels come from our schema, never from the client: `operationName` is whatever a client
typed, and a label per name grew /metrics without bound. An operation is labelled by the root
fields it selects (sorted and `+`-joined: `activeOrders+lastSequence`), at most two of them
(more are `several`, which keeps the combinations few), and `unknown` when it does not parse,
names no operation it holds, or selects a field the schema does not have.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Final

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
    get_operation_ast,
)
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Tracer
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

UNKNOWN: Final = "unknown"
MAX_NAMED: Final = 2
INTROSPECTION: Final = frozenset({"__schema", "__type", "__typename"})


class OperationTimer(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        services = getattr(self.execution_context.context, "services", None)
        metrics = getattr(services, "metrics", None)
        if metrics is None:
            return
        fields, kind = labels(self.execution_context)
        metrics.graphql.labels(fields, kind).observe(time.perf_counter() - started)


class OperationSpan(SchemaExtension):
    """A span per operation, around its execution, so the use cases it calls nest under it. Not a
    span per field (strawberry's OpenTelemetryExtension): a busy board resolves thousands of fields,
    each an object and an export. Over a WebSocket no request span is above it: it is the door's.
    A subscription's span covers its start, not its hours of events."""

    def __init__(self, *, tracer: Tracer, execution_context: ExecutionContext | None = None) -> None:
        self.tracer = tracer
        if execution_context is not None:
            self.execution_context = execution_context

    def on_execute(self) -> Iterator[None]:
        fields, kind = labels(self.execution_context)
        above = trace.get_current_span().get_span_context().is_valid
        attributes = {"graphql.operation.type": kind, "graphql.operation.fields": fields}
        with self.tracer.start_as_current_span(
            f"graphql {kind} {fields}",
            kind=SpanKind.INTERNAL if above else SpanKind.SERVER,
            attributes=attributes,
        ):
            yield


def labels(context: ExecutionContext) -> tuple[str, str]:
    """(root fields, operation type) of the operation that ran, from the schema's names only."""
    document = context.graphql_document
    operation = get_operation_ast(document, context.operation_name) if document else None
    if document is None or operation is None:
        return UNKNOWN, UNKNOWN
    root = context.schema._schema.get_root_type(operation.operation)
    names = _root_fields(operation.selection_set, _fragments(document), set())
    if root is None or names is None or not names <= root.fields.keys() | INTROSPECTION:
        return UNKNOWN, operation.operation.value
    named = "+".join(sorted(names)) if len(names) <= MAX_NAMED else "several"
    return named, operation.operation.value


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {
        node.name.value: node for node in document.definitions if isinstance(node, FragmentDefinitionNode)
    }


def _root_fields(
    selections: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: set[str]
) -> set[str] | None:
    """The field names an operation selects at its root, through fragments; None if it spreads
    a fragment the document does not define (or one that spreads itself)."""
    names: set[str] = set()
    for selection in selections.selections:
        found: set[str] | None
        if isinstance(selection, FieldNode):
            found = {selection.name.value}
        elif isinstance(selection, InlineFragmentNode):
            found = _root_fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            found = (
                None
                if fragment is None or name in seen
                else _root_fields(fragment.selection_set, fragments, seen | {name})
            )
        if found is None:
            return None
        names |= found
    return names
