"""What an operation may cost, counted from its document before anything runs.

Each field counts one for every time it can appear in the answer. A list multiplies what it
holds by its size: a connection's page (`first`, at most its maximum), else the most the field
returns (`activeOrders`: every open order, up to 1000, or `first` of them if fewer), else an
estimate of what an order or a station holds (SIZES). An order also costs ORDER_WEIGHT on top of
its fields: loading one costs about what rendering a hundred fields does (bench/stall.py).
Aliases and fragments count each time they are used, and every member of a union counts, as any
of them may come. Introspection reads the schema, not the orders, and counts one.

Twenty aliases of `activeOrders` on a busy day held the event loop for seconds; an operation
that costs more than MAX_COST is refused at validation (schema/validation.py), with
`extensions.code` TOO_COSTLY and a message naming its cost and the limit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_abstract_type,
)
from strawberry.extensions import SchemaExtension

from server.floor.model import MAX_AREAS, MAX_TABLES
from server.insights.days import SLOTS
from server.insights.figures import ITEM_MIX, LATE_LISTED
from server.lifecycle import OrderStatus
from server.ordering.model import DojoProduct
from server.ordering.service import MAX_HISTORY
from server.orders.service import MAX_ACTIVE
from server.paging import MAX_LIMIT

MAX_COST: Final = 500_000  # a board of 1000 open orders with a ticket's fields: ~340k (bench/stall.py)
ORDER_WEIGHT: Final = 100
DEFAULT_SIZE: Final = 10  # a list SIZES does not name (tests/test_graphql_limits.py checks there is none)
SIZES: Final[Mapping[str, int]] = {
    "activeOrders": MAX_ACTIVE,
    "unmatchedPayments": 100,  # Cashier.unmatched's limit
    "stations": 20,
    "areas": MAX_AREAS,
    "tables": MAX_TABLES,
    "openOrders": 5,  # a table's: a round or two, rarely more
    "waiterIds": 10,
    "rules": 20,
    "byStation": 20,
    "items": 10,
    "history": 10,
    "subItems": 3,
    "modifiers": 3,
    "voidedItems": 3,
    "discounts": 3,
    "taxLines": 3,
    "payments": 3,
    "orderingHistory": MAX_HISTORY,
    "pauses": len(DojoProduct),
    "pausable": len(DojoProduct),
    "products": len(DojoProduct),
    "durations": 10,  # ORDERPASS_PAUSE_MINUTES: a handful (10, 20, 30)
    "allowedMoves": len(OrderStatus),
    "allowed": len(OrderStatus),
    "ordersByStatus": len(OrderStatus),
    "timeInStatus": len(OrderStatus),
    # A day's insights (schema/insights.py): its quarter hours and hours are fixed, the rest capped.
    "series": 12,  # a Dojo product or staff, times two order types: a handful
    "quarterHours": SLOTS,
    "counts": 12,  # one per series
    "hours": 24,
    "late": LATE_LISTED,
    "itemMix": ITEM_MIX,
}
WEIGHTS: Final[Mapping[str, int]] = {"Order": ORDER_WEIGHT}


def cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    *,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> int:
    """The cost of the operation that would run (the most costly, if the name picks none)."""
    fragments = {
        node.name.value: node for node in document.definitions if isinstance(node, FragmentDefinitionNode)
    }
    counter = _Counter(schema, fragments, variables or {})
    operations = [node for node in document.definitions if isinstance(node, OperationDefinitionNode)]
    return max((counter.operation(op) for op in _chosen(operations, operation_name)), default=0)


class TokenLimit(SchemaExtension):
    """Strawberry's MaxTokensLimiter without its hooks held open for the operation's whole life
    (a subscription lives as long as its screen stays on). Before ParserCache: parsing reads
    max_tokens. The depth and alias limits are rules of schema/validation.py."""

    def __init__(self, *, max_tokens: int) -> None:
        self.max_tokens = max_tokens

    def on_parse(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = self.max_tokens
        yield


def over_budget(
    schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any], operation_name: str | None
) -> GraphQLError | None:
    """A document of several operations that names none (the name the client sent: Strawberry's
    `operation_name` falls back to the document's first operation, which would run the first of
    several where GraphQL asks for an error), then one that costs too much."""
    operations = sum(isinstance(each, OperationDefinitionNode) for each in document.definitions)
    if operations > 1 and operation_name is None:
        message = "the document holds several operations: say which to run in `operationName`"
        return GraphQLError(message, extensions={"code": "OPERATION_NAME_REQUIRED"})
    found = cost(schema, document, variables=variables, operation_name=operation_name)
    if found > MAX_COST:
        message = f"the operation costs {found}, more than the limit of {MAX_COST}"
        return GraphQLError(message, extensions={"code": "TOO_COSTLY", "cost": found, "limit": MAX_COST})
    return None


def _chosen(operations: list[OperationDefinitionNode], name: str | None) -> list[OperationDefinitionNode]:
    named = [op for op in operations if name is not None and op.name is not None and op.name.value == name]
    return named or operations


@dataclass
class _Counter:
    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]
    # A fragment's cost, by (name, page): a fragment spread many times is walked once, so no
    # document can make the count itself slow. -1 marks one being walked (a cycle counts 0).
    known: dict[tuple[str, int], int] = field(default_factory=dict)

    def operation(self, node: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(node.operation)
        return self.selections(node.selection_set, root, MAX_LIMIT) if root else 0

    def selections(self, selections: SelectionSetNode, parent: GraphQLNamedType, page: int) -> int:
        total = 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                on = self._type(selection.type_condition.name.value if selection.type_condition else None)
                total += self.selections(selection.selection_set, on or parent, page)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value, page)
        return total

    def fragment(self, name: str, page: int) -> int:
        key = (name, page)
        if key not in self.known:
            node, self.known[key] = self.fragments.get(name), -1
            on = self._type(node.type_condition.name.value) if node else None
            self.known[key] = self.selections(node.selection_set, on, page) if node and on else 0
        return max(self.known[key], 0)

    def field(self, node: FieldNode, parent: GraphQLNamedType, page: int) -> int:
        name = node.name.value
        definition = getattr(parent, "fields", {}).get(name)
        if definition is None:
            return 1  # __typename, introspection, or a field validation refuses anyway
        most = SIZES.get(name, DEFAULT_SIZE)
        if "first" in definition.args:
            asked = self._first(node, definition.args["first"].default_value)
            page = min(asked, MAX_LIMIT)
            most = min(asked, most)  # a list that takes `first` (activeOrders) holds at most that many
        named = get_named_type(definition.type)
        inner = self.selections(node.selection_set, named, page) if node.selection_set else 0
        many = isinstance(get_nullable_type(definition.type), GraphQLList)
        size = (page if name == "edges" else most) if many else 1
        return size * (self._weight(named) + inner)

    def _first(self, node: FieldNode, default: Any) -> int:
        given: Any = default
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                given = int(value.value)
            elif isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
        # The resolver refuses a page over its maximum; one the count cannot read costs the maximum.
        return max(given, 0) if isinstance(given, int) else MAX_ACTIVE

    def _weight(self, named: GraphQLNamedType) -> int:
        if is_abstract_type(named):
            return max((WEIGHTS.get(t.name, 1) for t in self.schema.get_possible_types(named)), default=1)
        return WEIGHTS.get(named.name, 1)

    def _type(self, name: str | None) -> GraphQLNamedType | None:
        return self.schema.get_type(name) if name else None
