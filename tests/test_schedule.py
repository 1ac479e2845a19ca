"""When a timed order goes on the line (server/schedule.py), without a database."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from server.lifecycle import OrderStatus
from server.orders.model import CollectionDetails, DineInDetails, Order, OrderDetails, OrderType
from server.schedule import PrepTimes, due_at, fire_at, fire_times, held
from server.stations.routing import PrepLine, Routing, Station
from tests.factories import an_order

S = OrderStatus
NOON = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DUE = NOON + timedelta(minutes=45)
ROUTING = Routing(
    (
        Station("kitchen", "Kitchen", 0, True),
        Station("grill", "Grill", 1, prep_minutes=25),
        Station("bar", "Bar", 2, prep_minutes=5),
    ),
    (),
)
PREP = PrepTimes.of(ROUTING, minutes=15)


def timed(
    at: datetime | None = DUE,
    *,
    asap: bool | None = False,
    status: S = S.NEW,
    stations: tuple[str, ...] = ("grill", "bar"),
) -> Order:
    order = an_order(status=status)
    details = OrderDetails(
        order_type=OrderType.COLLECTION, collection=CollectionDetails(asap=asap, collect_at=at)
    )
    content = order.content.model_copy(update={"details": details})
    prep = tuple(PrepLine(n, station, NOON) for n, station in enumerate(stations, start=1))
    return dataclasses.replace(order, content=content, prep=prep)


def pre_order(ready_at: datetime | None) -> Order:
    order = an_order()
    details = OrderDetails(
        order_type=OrderType.DINE_IN, dine_in=DineInDetails(table_id="5", ready_at=ready_at)
    )
    return dataclasses.replace(order, content=order.content.model_copy(update={"details": details}))


def test_a_collection_for_a_time_and_a_pre_ordered_table_are_due_then_and_asap_is_never():
    assert due_at(timed()) == DUE
    assert due_at(pre_order(DUE)) == DUE
    assert due_at(timed(asap=True)) is None
    assert due_at(timed(None, asap=None)) is None
    assert due_at(pre_order(None)) is None
    assert due_at(an_order()) is None


def test_each_station_fires_its_own_prep_time_early_and_whole_orders_at_the_earliest():
    times = fire_times(DUE, ("grill", "bar", "kitchen"), PREP)
    assert times == {
        "grill": DUE - timedelta(minutes=25),
        "bar": DUE - timedelta(minutes=5),
        "kitchen": DUE - timedelta(minutes=15),  # the venue's time: the kitchen has none of its own
        None: DUE - timedelta(minutes=25),
    }
    assert fire_times(DUE, (), PREP) == {None: DUE - timedelta(minutes=15)}
    assert PREP.longest == timedelta(minutes=25)


def test_a_timed_order_is_held_on_each_screen_until_its_fire_time_there():
    order = timed()
    assert held(order, PREP, now=NOON)
    at_twenty = DUE - timedelta(minutes=25)
    assert not held(order, PREP, now=at_twenty)  # the whole-order screens get it with the grill
    assert not held(order, PREP, now=at_twenty, station="grill")
    assert held(order, PREP, now=at_twenty, station="bar")
    assert not held(order, PREP, now=DUE - timedelta(minutes=5), station="bar")
    assert fire_at(order, PREP, station="bar") == DUE - timedelta(minutes=5)


@pytest.mark.parametrize("status", [S.PREPARING, S.PREPARED, S.READY, S.CANCELED])
def test_an_order_someone_started_or_stopped_is_not_held(status):
    assert not held(timed(status=status), PREP, now=NOON)


def test_a_station_that_started_early_takes_the_order_off_the_schedule_and_asap_is_never_held():
    order = timed()
    started = dataclasses.replace(
        order, prep=(dataclasses.replace(order.prep[0], done_at=NOON), order.prep[1])
    )
    assert not held(started, PREP, now=NOON)
    assert not held(timed(asap=True), PREP, now=NOON)
    assert held(pre_order(DUE), PREP, now=NOON)
