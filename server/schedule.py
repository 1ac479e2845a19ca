"""When a timed order goes on the line. No I/O: the board and the firing worker ask these with
the server's clock.

An order placed for a time (a collection's `collectAt`, a dine-in pre-order's `readyAt`) is
*due* then, and *fires* its prep time earlier: the venue's (ORDERPASS_PREP_MINUTES), or the
station's own where the venue file gives one. Until it fires, an order nobody has started is
held off the kitchen's screens and shown in their "scheduled" strip instead. A station's screen
gets it at that station's fire time; a whole-order screen at the earliest of its stations'. An
ASAP order has no due time and is never held.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from server.lifecycle import NOT_STARTED
from server.orders.model import Order, OrderType
from server.stations.routing import Routing


@dataclass(frozen=True, slots=True)
class PrepTimes:
    """How long before a timed order is due each station starts on it."""

    venue: timedelta
    stations: Mapping[str, timedelta]

    @classmethod
    def of(cls, routing: Routing, *, minutes: int) -> PrepTimes:
        own = {
            s.id: timedelta(minutes=s.prep_minutes) for s in routing.stations if s.prep_minutes is not None
        }
        return cls(timedelta(minutes=minutes), own)

    def at(self, station: str | None) -> timedelta:
        return self.stations.get(station, self.venue) if station is not None else self.venue

    @property
    def longest(self) -> timedelta:
        return max((self.venue, *self.stations.values()))


def due_at(order: Order) -> datetime | None:
    """When a timed order is wanted; None for an ASAP one."""
    details = order.content.details
    collection, dine_in = details.collection, details.dine_in
    return due_of(
        details.order_type,
        asap=collection.asap if collection else None,
        collect_at=collection.collect_at if collection else None,
        ready_at=dine_in.ready_at if dine_in else None,
    )


def due_of(
    order_type: OrderType, *, asap: bool | None, collect_at: datetime | None, ready_at: datetime | None
) -> datetime | None:
    """`due_at` from the fields alone (a collection's, or a pre-ordered table's), for a reader of
    many orders' rows that builds no Order (server/insights)."""
    if order_type is OrderType.COLLECTION:
        return collect_at if asap is not True else None
    return ready_at


def fire_times(due: datetime, stations: Iterable[str | None], prep: PrepTimes) -> dict[str | None, datetime]:
    """When each station (None: a screen of whole orders) starts on an order due then: its own
    time, and for whole orders the earliest of them."""
    each: dict[str | None, datetime] = {station: due - prep.at(station) for station in stations}
    each[None] = min(each.values(), default=due - prep.venue)
    return each


def fire_at(order: Order, prep: PrepTimes, *, station: str | None = None) -> datetime | None:
    """When this order goes on `station`'s screen (None: the whole-order screens); None if untimed."""
    due = due_at(order)
    if due is None:
        return None
    return fire_times(due, (line.station for line in order.prep), prep).get(station, due - prep.at(station))


def held(order: Order, prep: PrepTimes, *, now: datetime, station: str | None = None) -> bool:
    """Whether the order waits off this screen's line: timed, not yet fired here, and nobody has
    started it (a cook who starts it early takes it off the schedule)."""
    if order.status not in NOT_STARTED or any(line.done for line in order.prep):
        return False
    fires = fire_at(order, prep, station=station)
    return fires is not None and fires > now
