"""The rows a day's figures are made of: the orders placed between two moments (through
`ix_orders_created`) and their item lines (through the items' primary key), one statement each,
whatever the day holds. Nothing here commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.insights.figures import Made, Placed
from server.lifecycle import OrderStatus
from server.models import ITEMS, ORDERS
from server.orders.model import OrderType
from server.schedule import due_of

_PLACED = select(
    ORDERS.c.id,
    ORDERS.c.reference,
    ORDERS.c.display_name,
    ORDERS.c.status,
    ORDERS.c.order_type,
    ORDERS.c.requesting_product,
    ORDERS.c.created_at,
    ORDERS.c.readied_at,
    ORDERS.c.collect_asap,
    ORDERS.c.collect_at,
    ORDERS.c.ready_at,
)
_MADE = select(
    ITEMS.c.order_id,
    ITEMS.c.name,
    ITEMS.c.quantity,
    ITEMS.c.station,
    ITEMS.c.routed_at,
    ITEMS.c.done_at,
    ITEMS.c.voided_at.is_not(None),  # whether it was voided: the moment is never read
).select_from(ITEMS.join(ORDERS, ORDERS.c.id == ITEMS.c.order_id))


async def placed_between(tx: AsyncConnection, start: datetime, end: datetime) -> list[Placed]:
    query = _PLACED.where(ORDERS.c.created_at >= start, ORDERS.c.created_at < end)
    found = []
    for (
        order_id,
        reference,
        name,
        status,
        kind,
        product,
        created,
        readied,
        asap,
        collect_at,
        ready_at,
    ) in await tx.execute(query.order_by(ORDERS.c.created_at, ORDERS.c.id)):
        order_type = OrderType(kind)
        due = due_of(order_type, asap=asap, collect_at=collect_at, ready_at=ready_at)
        title = reference or name or order_id
        found.append(Placed(order_id, title, OrderStatus(status), order_type, product, created, readied, due))
    return found


async def made_between(tx: AsyncConnection, start: datetime, end: datetime) -> list[Made]:
    """The item lines (sub-items go with their item) of the orders placed between the two."""
    query = _MADE.where(
        ORDERS.c.created_at >= start, ORDERS.c.created_at < end, ITEMS.c.parent_line.is_(None)
    )
    return [Made(*row) for row in await tx.execute(query)]


async def routed_between(tx: AsyncConnection, start: datetime, end: datetime) -> list[tuple[str, str | None]]:
    """Where each item line of those orders went, and nothing else: all a day beside the one
    shown needs (when its timed orders fired), without reading every line's times."""
    query = (
        select(ITEMS.c.order_id, ITEMS.c.station)
        .select_from(ITEMS.join(ORDERS, ORDERS.c.id == ITEMS.c.order_id))
        .where(ORDERS.c.created_at >= start, ORDERS.c.created_at < end, ITEMS.c.parent_line.is_(None))
    )
    return [(order_id, station) for order_id, station in await tx.execute(query)]
