"""Executing a subscription event once per change and query shape, not once per screen.

Fifty kitchen screens on the same stage ask the same selection set of every change; executing
it fifty times was the limit of live fan-out (bench/RESULTS.md). The subscription yields one
shared `OrderChange` per committed change; this executor keeps each result on it, keyed by the
query's text, operation and the variables its selection set uses (not `since` or `statuses`,
which only choose the changes), so every other screen with that shape gets the same result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from graphql import OperationDefinitionNode, OperationType, VariableNode, visit
from graphql.language import Visitor
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class SharedEventExecutor(StrawberryGraphQLCoreExecutionContext):
    def build_per_event_executor(self, payload: Any) -> Any:
        """Each event gets its own memo of collected subfields. graphql-core's copy shares the
        subscription's, keyed by lists each event makes anew, so it kept ~6 entries for every
        change a screen was ever sent: a replay of 1000 changes to 50 subscriptions held ~300k
        of them, and every full collection walked them all (pauses of 0.5-1 s)."""
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        memo: dict[Any, Any] | None = getattr(self.root_value, "rendered", None)
        operation = self.operation
        if memo is None or operation.operation is not OperationType.SUBSCRIPTION or operation.loc is None:
            return super().execute_operation(serially)
        body = operation.loc.source.body
        name = operation.name.value if operation.name else None
        used = _selection_variables(body, name, operation, list(self.fragments.values()))
        values = self.variable_values.coerced
        key = (body, name, tuple((variable, repr(values.get(variable))) for variable in used))
        if key not in memo:
            result = super().execute_operation(serially)
            memo[key] = asyncio.ensure_future(result) if isinstance(result, Awaitable) else result
        found = memo[key]
        return _shared(found) if isinstance(found, asyncio.Future) else found


async def _shared(future: asyncio.Future[Any]) -> Any:
    return await asyncio.shield(future)


class _Variables(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_variable(self, node: VariableNode, *_: Any) -> None:
        self.names.add(node.name.value)


_BY_QUERY: dict[tuple[str, str | None], tuple[str, ...]] = {}


def _selection_variables(
    body: str, name: str | None, operation: OperationDefinitionNode, fragments: list[Any]
) -> tuple[str, ...]:
    """The variables used below the root field or in fragments: those that shape what a change
    renders (the root field's own arguments only choose which changes come)."""
    found = _BY_QUERY.get((body, name))
    if found is None:
        visitor = _Variables()
        for selection in operation.selection_set.selections:
            for child in getattr(getattr(selection, "selection_set", None), "selections", ()):
                visit(child, visitor)
        for fragment in fragments:
            visit(fragment, visitor)
        found = tuple(sorted(visitor.names))
        if len(_BY_QUERY) > 256:
            _BY_QUERY.clear()
        _BY_QUERY[(body, name)] = found
    return found
