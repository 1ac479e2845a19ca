"""Rows as records (server/records.py): a statement run straight on SQLite's driver gives the
same records, field for field and type for type, as the same statement through SQLAlchemy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection

from server.actors import Actor
from server.clock import ManualClock
from server.orders import rows as order_rows
from server.orders.service import Orders
from server.payments.cashier import Cashier
from server.records import fetch, records
from server.store import Store
from tests.factories import make_draft

DOJO = Actor.dojo({})
ONE = [order_rows._HEAD_OF, order_rows._LINES_OF_ONE, *order_rows._PARTS_OF_ONE.values()]
MANY = [order_rows._HEADS_OF, order_rows._LINES_OF, *order_rows._PARTS_OF.values()]  # `IN` a list


def both_ways(connection: Connection, order_ids: list[str]) -> list[tuple[list[Any], list[Any]]]:
    asked: list[tuple[Any, dict[str, Any]]] = [(query, {"ids": order_ids}) for query in MANY]
    asked += [(query, {"id": order_id}) for query in ONE for order_id in order_ids]
    return [
        (fetch(connection, query, given), records(connection.execute(query, given))) for query, given in asked
    ]


async def test_an_orders_statements_read_the_same_records_straight_as_through_sqlalchemy(
    orders: Orders, cashier: Cashier, store: Store, clock: ManualClock
):
    placed = await orders.place(make_draft(), by=DOJO)  # discounts, tax lines, a payment, modifiers
    await cashier.lock(placed.id, lock_id="lock-1", expiry=clock.now() + timedelta(minutes=2), by=DOJO)
    bare = await orders.place(make_draft(discounts=None, taxLines=None, payments=[], note=None), by=DOJO)
    async with store.read() as tx:
        found = await tx.run_sync(both_ways, [placed.id, bare.id, "no-such-order"])
    assert all(straight for straight, _ in found[: len(MANY)])  # something to compare
    for straight, through in found:
        assert straight == through
        assert [r._fields for r in straight] == [r._fields for r in through]
        assert [[type(v) for v in r] for r in straight] == [[type(v) for v in r] for r in through]
    (head,) = await tx_read(store, placed.id)
    assert (head.lock_id, head.has_discounts, head.created_at.tzinfo is not None) == ("lock-1", True, True)


async def tx_read(store: Store, order_id: str) -> list[Any]:
    async with store.read() as tx:
        return await tx.run_sync(lambda c: fetch(c, order_rows._HEAD_OF, {"id": order_id}))
