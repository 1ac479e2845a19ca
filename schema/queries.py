"""Read-only queries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Final

import strawberry

from schema import inputs, operator_types, order_types
from schema.context import Info
from server.errors import NotFound
from server.orders.filters import SearchFilters
from server.orders.service import MAX_ACTIVE
from server.pacing import paced
from server.paging import MAX_LIMIT, PageFields

# A refusal names the arguments this door's caller sent (`first`), not Dojo's `cursor.limit`.
ARGUMENTS: Final = PageFields(limit="first", after="after", before="before", cursors="before")


@strawberry.type(description="Where a page of orders sits in the whole list, and how to move on.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether more orders follow this page.")
    has_previous_page: bool = strawberry.field(description="Whether orders come before this page.")
    start_cursor: str | None = strawberry.field(description="The first edge's cursor; null on an empty page.")
    end_cursor: str | None = strawberry.field(
        description="The last edge's cursor: pass it as `after` for the next page; null on an empty page."
    )


@strawberry.type(description="An order on a page, with the cursor that continues after it.")
class OrderEdge:
    cursor: str = strawberry.field(
        description="Pass it as `after` to continue after this order, with the same filter."
    )
    node: order_types.OrderNode = strawberry.field(description="The order.")


@strawberry.type(description="A page of orders, oldest first, and how many match in all.")
class OrderConnection:
    edges: list[OrderEdge] = strawberry.field(description="The orders on this page, oldest first.")
    page_info: PageInfo = strawberry.field(description="Where this page sits, and the cursors to move on.")
    filters: strawberry.Private[SearchFilters]

    @strawberry.field(description="How many orders match the filter, across all pages.")
    async def total_count(self, info: Info) -> int:
        return await info.context.services.orders.count(self.filters)


@strawberry.type
class Query:
    @strawberry.field(description="The order with this id, or null if there is none.")
    async def order(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The order's id.")]
    ) -> order_types.OrderNode | None:
        try:
            return order_types.order(await info.context.services.orders.get(str(id)))
        except NotFound:
            return None

    @strawberry.field(description=f"Orders, oldest first; `first` is at most {MAX_LIMIT}.")
    async def orders(
        self,
        info: Info,
        filter: Annotated[
            inputs.OrderFilter | None, strawberry.argument(description="Which orders; every order if null.")
        ] = None,
        first: Annotated[int, strawberry.argument(description=f"How many, from 1 to {MAX_LIMIT}.")] = 50,
        after: Annotated[
            str | None,
            strawberry.argument(description="Continue after this cursor, from a page with the same filter."),
        ] = None,
    ) -> OrderConnection:
        filters = inputs.filters(filter)
        page = await info.context.services.orders.search(filters, limit=first, after=after, fields=ARGUMENTS)
        nodes = [order_types.order(order) for order in page.items]
        edges = [
            OrderEdge(cursor=cursor, node=node) for cursor, node in zip(page.cursors, nodes, strict=True)
        ]
        info_ = PageInfo(
            has_next_page=page.after is not None,
            has_previous_page=page.before is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        )
        return OrderConnection(edges=edges, page_info=info_, filters=filters)

    @strawberry.field(
        description=f"Orders that are not Finalized, Canceled or Failed, oldest first: `first` of them "
        f"(at most {MAX_ACTIVE}), after the order whose id is `after`. Past `first`, the newest wait: "
        "`activeOrderCount` says how many there are in all.",
        graphql_type=list[order_types.OrderNode],
    )
    async def active_orders(
        self,
        info: Info,
        first: Annotated[
            int, strawberry.argument(description=f"How many, from 1 to {MAX_ACTIVE}.")
        ] = MAX_ACTIVE,
        after: Annotated[
            str | None, strawberry.argument(description="Continue after the active order with this id.")
        ] = None,
    ) -> AsyncIterator[order_types.OrderNode]:
        # Up to a thousand orders: rendered a chunk at a time, so a Dojo call waits for none of it.
        found = await info.context.services.orders.active(limit=first, after=after, fields=ARGUMENTS)
        return paced(order_types.order(order) for order in found.orders)

    @strawberry.field(description="How many orders are active, however many `activeOrders` returns.")
    async def active_order_count(self, info: Info) -> int:
        return await info.context.services.orders.active_count()

    @strawberry.field(description="The newest change's sequence: load, then subscribe with `since` this.")
    async def last_sequence(self, info: Info) -> int:
        return await info.context.services.orders.last_sequence()

    @strawberry.field(description="Payment intents Dojo told us about that no order holds.")
    async def unmatched_payments(self, info: Info) -> list[operator_types.UnmatchedPaymentNode]:
        return [operator_types.unmatched(found) for found in await info.context.services.cashier.unmatched()]

    @strawberry.field(description="POS events owed to Dojo: how many, and since when.")
    async def dojo_outbox(self, info: Info) -> operator_types.DojoOutboxNode:
        found = await info.context.services.orders.owed_to_dojo()
        return operator_types.DojoOutboxNode(
            owed=found.owed, failing=found.failing, oldest_undelivered_at=found.oldest
        )

    @strawberry.field(description="The one WebSocket to Dojo: its state, since when, its last error.")
    async def dojo_connection(self, info: Info) -> operator_types.DojoConnectionNode:
        return operator_types.connection(await info.context.services.link.status())

    @strawberry.field(description="Orders per status, and time spent in each status, since a moment.")
    async def kitchen_stats(
        self,
        info: Info,
        since: Annotated[
            datetime, strawberry.argument(description="Count from this moment (without an offset: UTC).")
        ],
    ) -> operator_types.KitchenStatsNode:
        return operator_types.stats(await info.context.services.orders.stats(since))
