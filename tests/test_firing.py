"""Firing timed orders (server/orders/firing.py): at its fire time a timed order becomes a change
of its own, announced once however many processes look, and the board takes it on its line then."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from server.actors import Actor
from server.changes.model import ChangeKind
from server.clock import ManualClock, iso
from server.lifecycle import OrderStatus
from server.orders.firing import Firing
from server.orders.model import Order
from server.services import Services
from server.stages import STAGES
from server.stations.routing import Rule, RuleKind, Station
from tests.factories import make_draft

S = OrderStatus
DOJO = Actor.dojo({"dojo-requesting-product": "Order&Pay"})
ADMIN = Actor.staff("manager")
COOK = Actor.staff("pass")


async def collection_at(services: Services, minutes: int, **overrides: Any) -> Order:
    """A collection Dojo placed for `minutes` from now."""
    at = services.clock.now() + timedelta(minutes=minutes)
    details = {"orderType": "Collection", "collection": {"asap": False, "collectAt": iso(at)}}
    draft = make_draft(details=details, displayName="Sam", **overrides)
    return await services.orders.place(draft, by=DOJO)


async def test_a_timed_order_fires_once_at_its_fire_time(services: Services, clock: ManualClock):
    order = await collection_at(services, 40)  # fires at 25 minutes, with the venue's 15 of prep
    assert await services.firing.fire_due() == []
    clock.advance(timedelta(minutes=24, seconds=59))
    assert await services.firing.fire_due() == []
    clock.advance(timedelta(seconds=1))
    (fired,) = await services.firing.fire_due()
    assert (fired.order_id, fired.kind, fired.from_status, fired.to_status) == (
        order.id,
        ChangeKind.FIRED,
        S.NEW,
        S.NEW,
    )
    assert await services.firing.fire_due() == []  # announced already
    history = await services.orders.history(order.id)
    assert history[-1].kind is ChangeKind.FIRED
    assert history[-1].detail == {"fireAt": iso(clock.now())}
    assert (await services.orders.get(order.id)).version == 1  # the order itself did not change


async def test_two_processes_looking_at_once_announce_a_fire_time_once(
    services: Services, clock: ManualClock
):
    other = Firing(store=services.store, broker=services.broker, clock=clock, minutes=15)
    await collection_at(services, 20)
    clock.advance(timedelta(minutes=5))
    found = [*await services.firing.fire_due(), *await other.fire_due()]
    assert [change.kind for change in found] == [ChangeKind.FIRED]


async def test_each_station_fires_at_its_own_time_and_a_started_order_is_left_alone(
    services: Services, clock: ManualClock
):
    prep = services.prep
    await prep.save_station(Station("grill", "Grill", 1, prep_minutes=30), by=ADMIN)
    await prep.set_rules("grill", [Rule("grill", RuleKind.PLU_PREFIX, "BUR")], by=ADMIN)
    order = await collection_at(services, 45)  # a burger for the grill (30), a lager for the kitchen (15)
    started = await collection_at(services, 45)
    await services.orders.move(started.id, S.ACCEPTED, by=COOK)
    await services.orders.move(started.id, S.PREPARING, by=COOK)
    clock.advance(timedelta(minutes=15))
    assert [c.order_id for c in await services.firing.fire_due()] == [order.id]  # the grill's turn
    clock.advance(timedelta(minutes=15))
    assert [c.order_id for c in await services.firing.fire_due()] == [order.id]  # the kitchen's
    clock.advance(timedelta(minutes=30))
    assert await services.firing.fire_due() == []


async def test_the_board_holds_a_timed_order_in_its_scheduled_strip_until_it_fires(
    services: Services, clock: ManualClock
):
    board, kitchen = services.board, STAGES["kitchen"]
    order = await collection_at(services, 30)
    asap = await services.orders.place(make_draft(), by=DOJO)
    shown = await board.board(kitchen, COOK)
    assert [t.order_id for t in shown.tickets] == [asap.id]
    assert [(s.ticket.order_id, s.fires) for s in shown.scheduled] == [(order.id, "12:15")]
    assert shown.more == 0
    assert [s.ticket.order_id for s in await board.scheduled(kitchen)] == [order.id]
    assert await board.more(kitchen, shown=2) == 0
    fragment = await board.ticket(order.id, kitchen, COOK)
    assert fragment is not None
    assert not fragment.on_stage
    assert dict(await board.all_day(kitchen))["Burger"] == 2  # the line has the ASAP order's alone

    clock.advance(timedelta(minutes=15))
    now_on = await board.board(kitchen, COOK)
    assert {t.order_id for t in now_on.tickets} == {order.id, asap.id}
    assert now_on.scheduled == ()
    fragment = await board.ticket(order.id, kitchen, COOK)
    assert fragment is not None
    assert fragment.on_stage
    assert fragment.ticket.due_at == clock.now() + timedelta(minutes=15)  # its timer counts to this
    assert dict(await board.all_day(kitchen))["Burger"] == 4
