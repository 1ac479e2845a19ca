"""A kitchen screen's taps carry their own ids, so a tap sent again (the screen lost its connection
before the answer came) is applied once; a tap the rules refuse claims nothing. Through the
service layer on a real store, and once through the GraphQL schema."""

from __future__ import annotations

import pytest
import strawberry

from schema import build_schema
from server.actors import Actor
from server.changes.model import ChangeKind
from server.errors import Conflict, InvalidRequest
from server.lifecycle import OrderStatus
from server.orders.service import Orders
from server.services import Services
from server.staff.roles import Role
from server.stations.prep import Prep
from tests.conftest import as_staff
from tests.test_prep import DOJO, placed, venue

S = OrderStatus
COOK = Actor.staff("pass-screen", Role.KITCHEN)
TAP = "6f1c2d9e-8a41-4d3b-9a77-0b2f4e5d6c71"


async def moves(orders: Orders, order_id: str) -> list[tuple[OrderStatus | None, OrderStatus | None]]:
    return [
        (entry.from_status, entry.to_status)
        for entry in await orders.history(order_id)
        if entry.kind is ChangeKind.STATUS_CHANGED
    ]


async def test_a_move_sent_twice_with_one_tap_id_moves_once(orders: Orders):
    order = await placed(orders)
    first = await orders.move(order.id, S.ACCEPTED, by=COOK, expected=S.NEW, tap=TAP)
    again = await orders.move(order.id, S.ACCEPTED, by=COOK, expected=S.NEW, tap=TAP)
    assert first.status is again.status is S.ACCEPTED
    assert await moves(orders, order.id) == [(S.NEW, S.ACCEPTED)]
    assert again.version == first.version  # nothing was written the second time


async def test_without_a_tap_id_the_same_move_again_is_a_conflict(orders: Orders):
    order = await placed(orders)
    await orders.move(order.id, S.ACCEPTED, by=COOK, expected=S.NEW)
    with pytest.raises(Conflict, match="already Accepted"):
        await orders.move(order.id, S.ACCEPTED, by=COOK, expected=S.NEW)


async def test_a_tap_that_no_longer_applies_is_refused_and_claims_nothing(orders: Orders):
    order = await placed(orders)
    await orders.cancel(order.id, by=DOJO)
    for _ in range(2):  # refused each time it comes back: the refusal claimed nothing
        with pytest.raises(Conflict):
            await orders.move(order.id, S.ACCEPTED, by=COOK, expected=S.NEW, tap=TAP)


async def test_a_tap_id_is_one_tap_not_another(orders: Orders):
    order = await placed(orders)
    await orders.move(order.id, S.ACCEPTED, by=COOK, tap=TAP)
    with pytest.raises(Conflict, match="was a move Accepted"):
        await orders.move(order.id, S.PREPARING, by=COOK, tap=TAP)
    with pytest.raises(InvalidRequest, match="tapId"):
        await orders.move(order.id, S.PREPARING, by=COOK, tap="x" * 101)
    second = await orders.move(order.id, S.PREPARING, by=COOK, tap="another")
    assert second.status is S.PREPARING


async def test_a_station_bump_and_its_bring_back_sent_twice_each_apply_once(orders: Orders, prep: Prep):
    await venue(prep)
    order = await placed(orders)
    for _ in range(2):
        bumped = await prep.bump(order.id, "grill", by=COOK, tap="bump-1")
    assert bumped.status is S.PREPARING
    for _ in range(2):
        back = await prep.bring_back(order.id, "grill", by=COOK, tap="back-1")
    assert not any(line.done for line in back.prep)
    kinds = [entry.kind for entry in await orders.history(order.id)]
    assert kinds.count(ChangeKind.PREP_CHANGED) == 2  # one bump, one bring-back


async def test_a_station_tap_on_a_canceled_order_is_refused_saying_so(orders: Orders, prep: Prep):
    await venue(prep)
    order = await placed(orders)
    await orders.cancel(order.id, by=DOJO)
    with pytest.raises(Conflict, match=r"the order is Canceled$"):
        await prep.bump(order.id, "grill", by=COOK, tap="late")


MOVE = """mutation($id: ID!, $to: OrderStatus!, $expected: OrderStatus, $tap: String) {
  moveOrder(id: $id, to: $to, expected: $expected, tapId: $tap) {
    __typename ... on Order { status version } ... on Problem { message } } }"""


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


async def test_over_graphql_a_replayed_tap_answers_the_order_and_a_late_one_says_why(
    schema: strawberry.Schema, services: Services, orders: Orders
):
    order = await placed(orders)
    context = as_staff(services, COOK)
    variables = {"id": order.id, "to": "ACCEPTED", "expected": "NEW", "tap": TAP}
    answers = [
        (await schema.execute(MOVE, variable_values=variables, context_value=context)).data for _ in range(2)
    ]
    assert (
        answers[0] == answers[1] == {"moveOrder": {"__typename": "Order", "status": "ACCEPTED", "version": 2}}
    )
    await orders.cancel(order.id, by=Actor.staff("manager"))
    late = {**variables, "to": "PREPARING", "expected": "ACCEPTED", "tap": "late"}
    refused = (await schema.execute(MOVE, variable_values=late, context_value=context)).data
    assert refused == {
        "moveOrder": {
            "__typename": "Conflict",
            "message": f"order {order.id} is already Canceled",
        }
    }
