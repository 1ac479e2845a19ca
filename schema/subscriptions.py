"""Live changes: every committed change, each once, in sequence order; with `since`, every
change after that number first, so a screen that reconnects misses nothing."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from schema import order_types
from schema.context import Info
from server.changes.feed import Delivery
from server.changes.model import ChangeKind
from server.lifecycle import OrderStatus


@strawberry.type(description="One committed change to an order, and the order as it now stands.")
class OrderChange:
    sequence: int = strawberry.field(
        description="The change's place in the feed, rising with each change: resubscribe with "
        "`since` the last one applied, and miss nothing."
    )
    kind: ChangeKind = strawberry.field(description="What the change did.")
    order: order_types.OrderNode = strawberry.field(
        description="The order as the feed read it: just after the change, or, replayed, as it is now."
    )
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


@strawberry.type(description="Live feeds, for screens that must miss nothing.")
class Subscription:
    @strawberry.subscription(
        description="Every committed change to an order, each once, in sequence order. With "
        "`statuses`, only changes that move an order into, out of, or within those statuses."
    )
    async def order_changes(
        self,
        info: Info,
        since: Annotated[
            int | None,
            strawberry.argument(
                description="First every change after this sequence (Query.lastSequence, or the last "
                "one applied), then live ones; only live ones if null."
            ),
        ] = None,
        statuses: Annotated[
            list[OrderStatus] | None,
            strawberry.argument(description="Only changes that touch these statuses."),
        ] = None,
    ) -> AsyncGenerator[OrderChange, None]:
        wanted = frozenset(statuses) if statuses else None
        async with info.context.services.feed.subscribe(since=since, statuses=wanted) as deliveries:
            async for delivery in deliveries:
                yield _change(delivery)
                del delivery  # not held while waiting for the next (server/changes/feed.py)
