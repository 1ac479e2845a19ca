"""Rows as records (server/records.py): a statement run straight on SQLite's driver gives the
same records, field for field and type for type, as the same statement through SQLAlchemy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, event, select, tuple_

from server.actors import Actor
from server.clock import ManualClock
from server.floor import rows as floor_rows
from server.floor.model import Area, Table
from server.models import ORDERS, STAFF_TOKENS
from server.orders import rows as order_rows
from server.orders.service import Orders
from server.payments.cashier import Cashier
from server.records import _plans, fetch, records
from server.services import Services
from server.staff import tokens as token_rows
from server.staff.roles import Role
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


async def test_parameters_reach_sqlite_as_their_types_send_them_and_fixed_values_as_written(
    services: Services, orders: Orders, store: Store, clock: ManualClock
):
    """A time is sent as its column stores it (sqlite3 would send a bare datetime as other text,
    and compare it wrongly at the very instant a token expires), a value the statement holds
    itself is sent with it, and a list spreads as Core spreads it."""
    admin = Actor.staff("admin", Role.ADMIN)
    await services.tokens.create(name="pass", role=Role.VIEWER, expires_at=clock.now() + timedelta(minutes=5))
    (held,) = await services.tokens.list()
    await services.floor.save_area(Area("terrace", "Terrace"), by=admin)
    await services.floor.save_table(Table("t1", "One", "terrace"), by=admin)
    placed = await orders.place(make_draft(), by=DOJO)
    async with store.read() as tx:  # the token itself is shown once: its row is found by its hash
        stored = (await tx.execute(select(STAFF_TOKENS.c.token_hash))).scalar_one()
    new = select(ORDERS.c.id).where(ORDERS.c.status == placed.status.value, ORDERS.c.id == bindparam("id"))
    asked: list[tuple[Any, dict[str, Any]]] = [
        (token_rows._HOLDER, {"hash": stored, "now": clock.now()}),
        (token_rows._HOLDER, {"hash": stored, "now": clock.now() + timedelta(minutes=5)}),  # expires now
        (token_rows._HOLDER, {"hash": token_rows.digest("opt_other"), "now": clock.now()}),
        (floor_rows._PLACES, {"ids": ["t1", "t2"]}),
        (new, {"id": placed.id}),
    ]
    async with store.read() as tx:
        found = await tx.run_sync(
            lambda c: [(fetch(c, query, given), records(c.execute(query, given))) for query, given in asked]
        )
    assert [len(straight) for straight, _ in found] == [1, 0, 0, 1, 1]  # each case asks what it means to
    for straight, through in found:
        assert straight == through
    assert found[0][0][0].name == held.name


async def test_an_order_reads_the_same_whether_its_statements_go_straight_or_are_watched(
    orders: Orders, store: Store
):
    """Straight to sqlite3, a whole order is read without SQLAlchemy's greenlet; once something
    listens to the engine's statements, through it, every statement seen, the order the same."""
    placed = await orders.place(make_draft(), by=DOJO)
    straight = await orders.get(placed.id)
    seen: list[str] = []

    def watch(*args: Any) -> None:
        seen.append(args[2])

    event.listen(store.engine.sync_engine, "before_cursor_execute", watch)
    try:
        watched = await orders.get(placed.id)
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", watch)
    assert watched == straight
    assert any("FROM orders" in sql for sql in seen)
    assert any("FROM order_items" in sql for sql in seen)


async def test_an_order_read_again_unchanged_is_built_once_and_anew_after_any_change(
    orders: Orders, cashier: Cashier, clock: ManualClock
):
    """`order_rows.order_of` keeps the Order its rows made: the same rows give the same object
    (a screen re-reads a ticket's order after every change); a change to any of them, here
    only Dojo's lock beside the order, gives a new one."""
    placed = await orders.place(make_draft(), by=DOJO)
    first = await orders.get(placed.id)
    assert await orders.get(placed.id) is first
    await cashier.lock(placed.id, lock_id="lock-1", expiry=clock.now() + timedelta(minutes=2), by=DOJO)
    locked = await orders.get(placed.id)
    assert locked is not first
    assert locked.lock is not None
    assert first.lock is None
    assert locked.version == first.version  # nothing but the lock's row moved


async def test_lists_spread_as_core_spreads_them_however_long_and_whenever_a_length_comes_again(
    orders: Orders, store: Store
):
    """A statement with lists keeps the SQL each set of their lengths spreads into (records._Shape):
    every length, none included, and each again, reads what SQLAlchemy reads; a list of tuples,
    or a value written into the SQL itself, is left to Core every time."""
    placed = [(await orders.place(make_draft(), by=DOJO)).id for _ in range(4)]
    two_lists = select(ORDERS.c.id, ORDERS.c.status).where(
        ORDERS.c.id.in_(bindparam("ids", expanding=True)),
        ORDERS.c.status.in_(bindparam("statuses", expanding=True)),
        ORDERS.c.version == bindparam("version"),
    )
    own_list = select(ORDERS.c.id).where(  # a list the statement holds itself, beside a given one
        ORDERS.c.status.in_(["New", "Accepted"]), ORDERS.c.id.in_(bindparam("ids", expanding=True))
    )
    pairs = select(ORDERS.c.id).where(
        tuple_(ORDERS.c.id, ORDERS.c.version).in_(bindparam("pairs", expanding=True))
    )
    written = select(ORDERS.c.id).where(
        ORDERS.c.id.in_(bindparam("ids", expanding=True, literal_execute=True))
    )
    asked: list[tuple[Any, dict[str, Any]]] = []
    for ids in ([], placed[:1], placed[:3], ["nope", *placed[1:]], placed[2:3], placed[:3][::-1], []):
        asked += [
            (order_rows._HEADS_OF, {"ids": ids}),
            (two_lists, {"ids": ids, "statuses": ["New"], "version": 1}),
        ]
        asked += [(two_lists, {"ids": ids, "statuses": ["New", "Accepted"], "version": 2})]
        asked += [
            (pairs, {"pairs": [(i, 1) for i in ids]}),
            (written, {"ids": ids}),
            (own_list, {"ids": ids}),
        ]
    async with store.read() as tx:
        found = await tx.run_sync(
            lambda c: [(fetch(c, query, given), records(c.execute(query, given))) for query, given in asked]
        )
    assert sum(len(straight) for straight, _ in found) > len(placed)  # something to compare
    for straight, through in found:
        assert straight == through
    if store.engine.dialect.name != "sqlite":
        return  # PostgreSQL's statements go through SQLAlchemy: no plan to look at
    kept = _plans[two_lists].shapes
    assert {lengths for lengths, shape in kept.items() if shape is not None} == {
        (0, 1),
        (1, 1),
        (3, 1),
        (4, 1),
        (0, 2),
        (1, 2),
        (3, 2),
        (4, 2),
    }
    assert {lengths[-1] for lengths, shape in _plans[own_list].shapes.items() if shape is not None} == {
        0,
        1,
        3,
        4,
    }
    assert _plans[pairs].spread is None  # tuples
    assert _plans[written].spread is None  # literal_execute
