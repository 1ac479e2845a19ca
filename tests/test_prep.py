"""Prep stations through the service layer, on a real store: routing at placement, station
bumps, and the order following them through Dojo's statuses."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import event

from server.actors import Actor
from server.broker.memory import MemoryBroker
from server.changes.model import ChangeKind
from server.clock import ManualClock
from server.errors import Conflict, Forbidden, InvalidRequest
from server.lifecycle import OrderStatus
from server.orders.model import Order, OrderDraft
from server.orders.service import Orders
from server.services import Services
from server.settings import Settings
from server.staff.roles import Role
from server.stages import STAGES
from server.stations.prep import Prep
from server.stations.routing import Rule, RuleKind, Station
from server.store import Store, create_store
from tests.factories import item, make_draft

S = OrderStatus
T = TypeVar("T")
ADMIN = Actor.staff("manager")
COOK = Actor.staff("grill-screen", Role.KITCHEN)
DOJO = Actor.dojo({"dojo-requesting-product": "Order&Pay"})


async def venue(prep: Prep) -> None:
    """A grill for burgers, a bar for drinks; the rest to the kitchen."""
    await prep.save_station(Station("grill", "Grill", 1), by=ADMIN)
    await prep.save_station(Station("bar", "Bar", 2), by=ADMIN)
    await prep.set_rules("grill", [Rule("grill", RuleKind.PLU_PREFIX, "BUR")], by=ADMIN)
    await prep.set_rules("bar", [Rule("bar", RuleKind.NAME, "*lager*")], by=ADMIN)


def dinner(**overrides: Any) -> OrderDraft:
    items = [item("Burger", 1090), item("Lager", 510), item("Salad", 700)]
    return make_draft(items=items, discounts=[], taxLines=[], serviceChargeAmount=None, **overrides)


async def placed(orders: Orders, **overrides: Any) -> Order:
    return await orders.place(dinner(**overrides), by=DOJO)


async def test_a_new_venue_has_one_default_station_and_everything_goes_there(prep: Prep, orders: Orders):
    routing = await prep.routing()
    assert [(s.id, s.is_default) for s in routing.stations] == [("kitchen", True)]
    order = await placed(orders)
    assert {line.station for line in order.prep} == {"kitchen"}
    assert (await orders.get(order.id)).prep == order.prep


async def test_items_are_routed_when_the_order_arrives_and_a_rule_change_applies_afterwards(
    prep: Prep, orders: Orders
):
    await venue(prep)
    first = await placed(orders)
    assert [(line.line, line.station) for line in first.prep] == [(1, "grill"), (2, "bar"), (3, "kitchen")]
    await prep.set_rules("bar", [], by=ADMIN)
    second = await placed(orders)
    assert [line.station for line in second.prep] == ["grill", "kitchen", "kitchen"]
    assert [line.station for line in (await orders.get(first.id)).prep] == ["grill", "bar", "kitchen"]


async def test_the_first_bump_starts_preparing_and_the_last_makes_it_prepared(
    prep: Prep, orders: Orders, clock: ManualClock
):
    await venue(prep)
    order = await placed(orders)
    clock.advance(timedelta(minutes=4))
    grilled = await prep.bump(order.id, "grill", by=COOK)
    assert grilled.status is S.PREPARING  # accepted on the way, through the lifecycle table
    assert [line.done for line in grilled.prep] == [True, False, False]
    poured = await prep.bump(order.id, "bar", by=COOK)
    assert poured.status is S.PREPARING
    done = await prep.bump(order.id, "kitchen", by=COOK)
    assert done.status is S.PREPARED
    history = await orders.history(order.id)
    moves = [(e.from_status, e.to_status) for e in history if e.kind is ChangeKind.STATUS_CHANGED]
    assert moves == [(S.NEW, S.ACCEPTED), (S.ACCEPTED, S.PREPARING), (S.PREPARING, S.PREPARED)]
    bumps = [e.detail for e in history if e.kind is ChangeKind.PREP_CHANGED]
    assert bumps == [
        {"station": "grill", "done": [1]},
        {"station": "bar", "done": [2]},
        {"station": "kitchen", "done": [3]},
    ]
    assert (await orders.get(order.id)).prep == done.prep


async def test_a_station_can_bump_single_items_and_bring_them_back(prep: Prep, orders: Orders):
    await prep.save_station(Station("grill", "Grill", 1), by=ADMIN)
    await prep.set_rules("grill", [Rule("grill", RuleKind.NAME, "*")], by=ADMIN)
    order = await placed(orders)
    one = await prep.bump(order.id, "grill", lines=[2], by=COOK)
    assert [line.done for line in one.prep] == [False, True, False]
    everything = await prep.bump(order.id, "grill", by=COOK)
    assert everything.status is S.PREPARED
    back = await prep.bring_back(order.id, "grill", lines=[3], by=COOK)
    assert back.status is S.PREPARING  # reopened
    assert [line.done for line in back.prep] == [True, True, False]


async def test_bumping_twice_or_too_late_is_a_conflict_and_strangers_are_refused(prep: Prep, orders: Orders):
    await venue(prep)
    order = await placed(orders)
    await prep.bump(order.id, "grill", by=COOK)
    with pytest.raises(Conflict, match="nothing left"):
        await prep.bump(order.id, "grill", by=COOK)
    with pytest.raises(InvalidRequest, match="not at bar"):
        await prep.bump(order.id, "bar", lines=[1], by=COOK)
    with pytest.raises(InvalidRequest, match="nothing for"):
        await prep.bump(order.id, "pizza", by=COOK)
    await orders.cancel(order.id, by=ADMIN)
    with pytest.raises(Conflict, match="Canceled"):
        await prep.bump(order.id, "bar", by=COOK)


async def test_managing_stations_is_for_admins_and_keeps_one_default(prep: Prep, orders: Orders):
    with pytest.raises(Forbidden):
        await prep.save_station(Station("grill", "Grill"), by=COOK)
    routing = await prep.save_station(Station("pass", "Pass", is_default=True), by=ADMIN)
    assert [s.id for s in routing.stations if s.is_default] == ["pass"]
    with pytest.raises(Conflict, match="default"):
        await prep.remove_station("pass", by=ADMIN)
    await venue(prep)
    order = await placed(orders)
    with pytest.raises(Conflict, match="still has 1 item"):
        await prep.remove_station("grill", by=ADMIN)
    await prep.bump(order.id, "grill", by=COOK)
    routing = await prep.remove_station("grill", by=ADMIN)
    assert "grill" not in [s.id for s in routing.stations]
    assert [line.station for line in (await placed(orders)).prep] == ["pass", "bar", "pass"]


async def test_speed_of_service_per_station_runs_from_arrival_to_bump(
    prep: Prep, orders: Orders, clock: ManualClock
):
    await venue(prep)
    since = clock.now()
    first, second = await placed(orders), await placed(orders)
    clock.advance(timedelta(minutes=4))
    await prep.bump(first.id, "grill", by=COOK)
    clock.advance(timedelta(minutes=2))
    await prep.bump(first.id, "bar", by=COOK)
    await prep.bump(second.id, "grill", by=COOK)
    stats = await orders.stats(since)
    by_station = {t.station: t for t in stats.stations}
    assert list(by_station) == ["kitchen", "grill", "bar"]  # the venue's order
    grill, bar, kitchen = by_station["grill"], by_station["bar"], by_station["kitchen"]
    assert (grill.samples, grill.median_seconds, grill.p90_seconds, grill.waiting) == (2, 300.0, 360.0, 0)
    assert (bar.samples, bar.median_seconds, bar.waiting) == (1, 360.0, 1)
    assert (kitchen.samples, kitchen.median_seconds, kitchen.waiting) == (0, None, 2)
    later = await orders.stats(clock.now() + timedelta(seconds=1))
    assert {t.station: t.samples for t in later.stations} == {"kitchen": 0, "grill": 0, "bar": 0}


async def test_bumping_the_whole_order_to_prepared_marks_every_item_made(
    prep: Prep, orders: Orders, clock: ManualClock
):
    await venue(prep)
    order = await placed(orders)
    await prep.bump(order.id, "grill", by=COOK)
    clock.advance(timedelta(minutes=2))
    done = await orders.move(order.id, S.PREPARED, by=COOK)  # a one-board kitchen's bump
    assert [line.done_at for line in done.prep] == [order.created_at, clock.now(), clock.now()]
    assert (await orders.get(order.id)).prep == done.prep
    assert (await orders.history(order.id))[-1].detail == {"done": [2, 3]}
    recalled = await orders.move(order.id, S.PREPARING, by=COOK)  # a recall leaves the items as they are
    assert all(line.done for line in recalled.prep)


async def test_a_stations_recall_list_is_what_it_finished_last_within_the_window(
    prep: Prep, orders: Orders, clock: ManualClock
):
    await venue(prep)
    first, second = await placed(orders), await placed(orders)
    await prep.bump(first.id, "grill", by=COOK)
    clock.advance(timedelta(minutes=10))
    await prep.bump(second.id, "grill", by=COOK)
    window = timedelta(minutes=15)
    assert [o.id for o in await prep.recently_done("grill", window=window, limit=20)] == [second.id, first.id]
    assert [o.id for o in await prep.recently_done("grill", window=window, limit=1)] == [second.id]
    clock.advance(timedelta(minutes=6))
    assert [o.id for o in await prep.recently_done("grill", window=window, limit=20)] == [second.id]
    assert await prep.recently_done("bar", window=window, limit=20) == []


async def test_a_voided_item_waits_at_no_station_and_keeps_none_open(
    prep: Prep, orders: Orders, services: Services, clock: ManualClock
):
    await venue(prep)
    order = await placed(orders, payments=[])  # not paid yet: a void needs no refund
    [lager] = [line.line for line in order.prep if line.station == "bar"]
    await services.amendments.void_items(order.id, [lager], by=COOK, reason="out of lager")
    stats = await orders.stats(clock.now())
    assert {t.station: t.waiting for t in stats.stations} == {"kitchen": 1, "grill": 1, "bar": 0}
    routing = await prep.remove_station("bar", by=ADMIN)  # nothing left to make there
    assert "bar" not in [s.id for s in routing.stations]


# -- the copy every ticket and board is drawn with ---------------------------------------------------


async def test_a_kitchen_ticket_reads_no_stations_once_this_processs_copy_is_read(
    prep: Prep, orders: Orders, services: Services, store: Store
):
    await venue(prep)
    order = await placed(orders)
    statements: list[str] = []
    event.listen(store.engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    for _ in range(5):
        shown = await services.board.ticket(order.id, STAGES["all"], COOK)
        assert shown is not None
        assert [line.station for line in shown.ticket.lines] == ["Grill", "Bar", "Kitchen"]
    assert [s for s in statements if "FROM stations" in s or "FROM routing_rules" in s] == []
    assert statements  # the order itself is read every time


async def test_a_station_change_in_one_process_reaches_anothers_copy_through_the_broker(
    settings: Settings, prep: Prep, broker: MemoryBroker, clock: ManualClock
):
    other_store = create_store(settings)
    other = Prep(store=other_store, broker=broker, clock=clock, fresh_for=3600)  # only the broker can tell it
    await other.copy.start()
    try:
        assert [s.id for s in (await other.routing()).stations] == ["kitchen"]
        await venue(prep)
        await _until_stations(other, ["kitchen", "grill", "bar"])
        await prep.set_rules("grill", [Rule("grill", RuleKind.NAME, "*steak*")], by=ADMIN)
        await _until(lambda: _rules(other), [("bar", "*lager*"), ("grill", "*steak*")])
        await prep.remove_station("bar", by=ADMIN)
        await _until_stations(other, ["kitchen", "grill"])
        assert (await prep.routing()) == (await other.routing())
    finally:
        await other.copy.stop()
        await other_store.close()


async def test_without_a_broker_another_process_sees_a_station_change_once_its_copy_is_stale(
    settings: Settings, prep: Prep, clock: ManualClock
):
    other_store = create_store(settings)
    other = Prep(store=other_store, broker=MemoryBroker(), clock=clock, fresh_for=1.0)  # nothing crosses
    try:
        assert [s.id for s in (await other.routing()).stations] == ["kitchen"]
        await prep.save_station(Station("grill", "Grill", 1), by=ADMIN)
        assert [s.id for s in (await other.routing()).stations] == ["kitchen"]  # fresh still
        await asyncio.sleep(1.1)
        assert [s.id for s in (await other.routing()).stations] == ["kitchen", "grill"]
    finally:
        await other_store.close()


async def test_orders_route_by_the_stations_in_the_store_even_when_the_copy_is_stale(
    settings: Settings, orders: Orders, clock: ManualClock
):
    """CreateOrder's batch reads the rules in its own transaction: a rule set by another process a
    moment ago routes the next order at once, whatever any copy says."""
    other_store = create_store(settings)
    elsewhere = Prep(store=other_store, broker=MemoryBroker(), clock=clock)
    try:
        await venue(elsewhere)
        assert [line.station for line in (await placed(orders)).prep] == ["grill", "bar", "kitchen"]
    finally:
        await other_store.close()


async def _until_stations(prep: Prep, expected: list[str]) -> None:
    await _until(lambda: _station_ids(prep), expected)


async def _station_ids(prep: Prep) -> list[str]:
    return [station.id for station in sorted((await prep.routing()).stations, key=lambda s: s.position)]


async def _rules(prep: Prep) -> list[tuple[str, str]]:
    return [(rule.station_id, rule.pattern) for rule in (await prep.routing()).rules]


async def _until(ask: Callable[[], Awaitable[T]], expected: T) -> None:
    for _ in range(200):
        if await ask() == expected:
            return
        await asyncio.sleep(0.01)
    assert await ask() == expected
