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
    ITEMS.c.voided_at,
).select_from(ITEMS.join(ORDERS, ORDERS.c.id == ITEMS.c.order_id))


async def placed_between(tx: AsyncConnection, start: datetime, end: datetime) -> list[Placed]:
    query = _PLACED.where(ORDERS.c.created_at >= start, ORDERS.c.created_at < end)
    found = []
    for row in await tx.execute(query.order_by(ORDERS.c.created_at, ORDERS.c.id)):
        order_type = OrderType(row.order_type)
        due = due_of(order_type, asap=row.collect_asap, collect_at=row.collect_at, ready_at=row.ready_at)
        title = row.reference or row.display_name or row.id
        found.append(
            Placed(
                row.id,
                title,
                OrderStatus(row.status),
                order_type,
                row.requesting_product,
                row.created_at,
                row.readied_at,
                due,
            )
        )
    return found


async def made_between(tx: AsyncConnection, start: datetime, end: datetime) -> list[Made]:
    """The item lines (sub-items go with their item) of the orders placed between the two."""
    query = _MADE.where(
        ORDERS.c.created_at >= start, ORDERS.c.created_at < end, ITEMS.c.parent_line.is_(None)
    )
    return [
        Made(
            row.order_id,
            row.name,
            row.quantity,
            row.station,
            row.routed_at,
            row.done_at,
            row.voided_at is not None,
        )
        for row in await tx.execute(query)
    ]
