"""Live changes: every committed change, each once, in sequence order; with `since`, every
change after that number first, so a screen that reconnects misses nothing."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from schema import order_types
from schema.context import Info
from server.changes.feed import Delivery
from server.changes.model import ChangeKind
from server.lifecycle import OrderStatus


@strawberry.type
class OrderChange:
    sequence: int
    kind: ChangeKind
    order: order_types.OrderNode
    rendered: strawberry.Private[dict[object, object]]  # results by query shape: schema/execution.py


def _change(delivery: Delivery) -> OrderChange:
    """One OrderChange per committed change, shared by every subscriber it reaches."""
    found = delivery.memo.get("graphql")
    if found is None:
        change = delivery.change
        found = OrderChange(
            sequence=change.sequence, kind=change.kind, order=order_types.order(delivery.order), rendered={}
        )
        delivery.memo["graphql"] = found
    assert isinstance(found, OrderChange)
    return found


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="With `statuses`, only changes that move an order into, out of, or within those statuses."
    )
    async def order_changes(
        self, info: Info, since: int | None = None, statuses: list[OrderStatus] | None = None
    ) -> AsyncGenerator[OrderChange, None]:
        wanted = frozenset(statuses) if statuses else None
        async with info.context.feed.subscribe(since=since, statuses=wanted) as deliveries:
            async for delivery in deliveries:
                yield _change(delivery)
