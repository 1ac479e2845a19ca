"""Edits after firing, through the service layer on a real store: items added to and voided
from a placed order, on its stations' tickets, its total, its status and its history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from server.actors import Actor
from server.changes.model import ChangeKind
from server.clock import ManualClock
from server.errors import Conflict, Forbidden, InvalidRequest
from server.lifecycle import OrderStatus
from server.orders.amendments import Amendments
from server.orders.model import Order, OrderItem
from server.orders.service import Orders
from server.payments.cashier import Cashier
from server.staff.roles import Role
from server.stations.prep import Prep
from server.stations.routing import Rule, RuleKind, Station
from tests.factories import item, make_draft

S = OrderStatus
ADMIN = Actor.staff("manager")
COOK = Actor.staff("grill-screen", Role.KITCHEN)
DOJO = Actor.dojo({"dojo-requesting-product": "Order&Pay"})


def dish(name: str, price: int, quantity: int = 1, **extra: Any) -> OrderItem:
    return OrderItem.model_validate(item(name, price, quantity, **extra), strict=False)


async def venue(prep: Prep) -> None:
    await prep.save_station(Station("grill", "Grill", 1), by=ADMIN)
    await prep.save_station(Station("bar", "Bar", 2), by=ADMIN)
    await prep.set_rules("grill", [Rule("grill", RuleKind.PLU_PREFIX, "BUR")], by=ADMIN)
    await prep.set_rules("bar", [Rule("bar", RuleKind.NAME, "*lager*")], by=ADMIN)


async def placed(orders: Orders, **overrides: Any) -> Order:
    """Burger (with fries: a sub-item takes line 3) and a lager, nothing paid."""
    body: dict[str, Any] = {"payments": [], **overrides}
    return await orders.place(make_draft(**body), by=DOJO)


async def test_an_item_added_after_firing_joins_its_station_on_the_same_ticket(
    prep: Prep, orders: Orders, amendments: Amendments, clock: ManualClock
):
    await venue(prep)
    order = await placed(orders)
    await prep.bump(order.id, "grill", by=COOK)
    clock.advance(timedelta(minutes=3))
    before = await orders.last_sequence()

    added = await amendments.add_items(order.id, [dish("Burger", 1090)], by=ADMIN)

    assert added.status is S.PREPARING
    assert [(line.line, line.station, line.done) for line in added.prep] == [
        (1, "grill", True),
        (2, "bar", False),
        (4, "grill", False),  # after every line the order has, sub-items included
    ]
    assert added.added_later(added.prep[2])
    assert not added.added_later(added.prep[0])
    assert added.content.total_amount.value == order.content.total_amount.value + 1090
    assert await orders.get(order.id) == added
    assert [c.kind for c in await orders.changes_after(before, limit=10)] == [ChangeKind.ITEMS_CHANGED]
    assert [o.id for o in (await orders.active()).orders] == [
        order.id
    ]  # the same order, never a second ticket
    entry = (await orders.history(order.id))[-1]
    assert entry.kind is ChangeKind.ITEMS_CHANGED
    assert entry.detail == {"added": [{"line": 4, "name": "Burger", "quantity": 1, "station": "grill"}]}

    # The grill's new burger is work still to do: the order is Prepared only once it is bumped.
    await prep.bump(order.id, "bar", by=COOK)
    assert (await orders.get(order.id)).status is S.PREPARING
    assert (await prep.bump(order.id, "grill", by=COOK)).status is S.PREPARED


async def test_new_work_takes_a_ready_order_back_to_preparing_through_the_table(
    prep: Prep, orders: Orders, amendments: Amendments
):
    order = await placed(orders)
    await prep.bump(order.id, "kitchen", by=COOK)
    await orders.move(order.id, S.READY, by=COOK)
    added = await amendments.add_items(order.id, [dish("Lager", 510, 2)], by=ADMIN)
    assert added.status is S.PREPARING
    moves = [(e.from_status, e.to_status) for e in await orders.history(order.id) if e.to_status][-2:]
    assert moves == [(S.READY, S.PREPARED), (S.PREPARED, S.PREPARING)]


async def test_a_retried_add_with_the_same_key_adds_nothing_again(orders: Orders, amendments: Amendments):
    order = await placed(orders)
    first = await amendments.add_items(order.id, [dish("Cola", 300)], by=ADMIN, client_key="tab-7-round-2")
    again = await amendments.add_items(order.id, [dish("Cola", 300)], by=ADMIN, client_key="tab-7-round-2")
    assert again == first
    assert [i.name for i in again.content.items] == ["Burger", "Lager", "Cola"]
    other = await amendments.add_items(order.id, [dish("Cola", 300)], by=ADMIN, client_key="round-3")
    assert [i.name for i in other.content.items] == ["Burger", "Lager", "Cola", "Cola"]


async def test_a_voided_item_leaves_the_bill_and_finishing_the_rest_makes_it_prepared(
    prep: Prep, orders: Orders, amendments: Amendments, clock: ManualClock
):
    await venue(prep)
    order = await placed(orders)
    await prep.bump(order.id, "grill", by=COOK)
    clock.advance(timedelta(minutes=1))
    voided = await amendments.void_items(order.id, [2], by=COOK, reason="out of lager")
    assert voided.status is S.PREPARED  # nothing left to make
    assert [i.name for i in voided.content.items] == ["Burger"]
    assert voided.content.total_amount.value == order.content.total_amount.value - 1020
    assert [(v.line, v.item.name, v.station, v.reason) for v in voided.voided] == [
        (2, "Lager", "bar", "out of lager")
    ]
    assert await orders.get(order.id) == voided
    assert (await amendments.void_items(order.id, [2], by=COOK)) == voided  # again: nothing changes
    history = await orders.history(order.id)
    assert history[-2].detail == {
        "voided": [{"line": 2, "name": "Lager", "quantity": 2, "station": "bar"}],
        "reason": "out of lager",
    }


async def test_edits_that_would_lose_money_or_make_no_sense_are_refused(
    orders: Orders, amendments: Amendments, cashier: Cashier, clock: ManualClock
):
    paid = await orders.place(make_draft(), by=DOJO)  # paid in full
    with pytest.raises(Conflict, match="refund the difference first"):
        await amendments.void_items(paid.id, [2], by=ADMIN)
    order = await placed(orders)
    with pytest.raises(Conflict, match="cancel the order instead"):
        await amendments.void_items(order.id, [1, 2], by=ADMIN)
    with pytest.raises(InvalidRequest, match="no line 3"):
        await amendments.void_items(order.id, [3], by=ADMIN)  # the fries: a sub-item, not an item
    with pytest.raises(InvalidRequest, match="every amount"):
        await amendments.add_items(order.id, [dish("Cola", 300, amountPerItem=euros(300))], by=ADMIN)
    with pytest.raises(InvalidRequest, match="1 to 100"):
        await amendments.add_items(order.id, [], by=ADMIN)
    with pytest.raises(Forbidden):
        await amendments.add_items(order.id, [dish("Cola", 300)], by=COOK)
    await cashier.lock(order.id, lock_id="lock-1", expiry=clock.now() + timedelta(minutes=2), by=DOJO)
    with pytest.raises(Conflict, match="Dojo is taking payment"):
        await amendments.add_items(order.id, [dish("Cola", 300)], by=ADMIN)
    await cashier.unlock(order.id, lock_id="lock-1", by=DOJO)
    await orders.cancel(order.id, by=ADMIN)
    with pytest.raises(Conflict, match="Canceled"):
        await amendments.add_items(order.id, [dish("Cola", 300)], by=ADMIN)


def euros(value: int) -> dict[str, Any]:
    return {"value": value, "currencyCode": "EUR"}
