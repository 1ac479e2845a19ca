"""Rows as records (server/records.py): a statement run straight on SQLite's driver gives the
same records, field for field and type for type, as the same statement through SQLAlchemy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, select

from server.actors import Actor
from server.clock import ManualClock
from server.models import ORDERS
from server.orders import rows as order_rows
from server.orders.service import Orders
from server.payments.cashier import Cashier
from server.records import fetch, records
from server.store import Store
from tests.factories import make_draft

DOJO = Actor.dojo({})
STATEMENTS = [order_rows._HEAD_OF, order_rows._LINES_OF_ONE, *order_rows._PARTS_OF_ONE.values()]


def both_ways(connection: Connection, order_id: str) -> list[tuple[list[Any], list[Any]]]:
    asked = {"id": order_id}
    return [
        (fetch(connection, query, asked), records(connection.execute(query, asked))) for query in STATEMENTS
    ]


async def test_an_orders_statements_read_the_same_records_straight_as_through_sqlalchemy(
    orders: Orders, cashier: Cashier, store: Store, clock: ManualClock
):
    placed = await orders.place(make_draft(), by=DOJO)  # discounts, tax lines, a payment, modifiers
    await cashier.lock(placed.id, lock_id="lock-1", expiry=clock.now() + timedelta(minutes=2), by=DOJO)
    bare = await orders.place(make_draft(discounts=None, taxLines=None, payments=[], note=None), by=DOJO)
    async with store.read() as tx:
        for order_id in (placed.id, bare.id, "no-such-order"):
            for straight, through in await tx.run_sync(both_ways, order_id):
                assert straight == through
                assert [r._fields for r in straight] == [r._fields for r in through]
                assert [[type(v) for v in r] for r in straight] == [[type(v) for v in r] for r in through]
    (head,) = await tx_read(store, placed.id)
    assert (head.lock_id, head.has_discounts, head.created_at.tzinfo is not None) == ("lock-1", True, True)


async def tx_read(store: Store, order_id: str) -> list[Any]:
    async with store.read() as tx:
        return await tx.run_sync(lambda c: fetch(c, order_rows._HEAD_OF, {"id": order_id}))


async def test_a_statement_with_an_expanding_parameter_is_refused(store: Store, sqlite_path):
    query = select(ORDERS.c.id).where(ORDERS.c.id.in_(["a", "b"]))
    async with store.read() as tx:
        with pytest.raises(ValueError, match="plain positional parameters"):
            await tx.run_sync(lambda c: fetch(c, query, {}))
