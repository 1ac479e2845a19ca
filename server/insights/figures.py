"""A day's figures for the manager, with no I/O: orders per quarter hour by where they came from,
ticket times per hour against the KDS's amber and red, each station's speed, the late tickets,
the item mix, and the same weekday a week earlier beside them. The service reads the rows; the
page, the CSV and GraphQL render what `figures` returns, so they cannot disagree.

The words, once:
- a day is the venue's calendar day, midnight to midnight in its time zone (23 or 25 hours on
  the nights the clocks change); an order belongs to the day it was placed;
- a quarter hour and an hour are read off the venue's wall clock, so today lines up with last
  week whatever the clocks did: on the night they go back the repeated hour's orders share its
  slots, on the night they go forward its slots stay empty;
- an order *arrives* on the line when it is placed, or a timed one when it fires (the earliest
  of its stations' fire times, as the whole-order screens take it: server/schedule.py); an item
  arrives at its station when it was routed there, or at that station's fire time;
- a ticket's time runs from its arrival to the moment it was made Ready (`readied_at`);
- a ticket is *late* once it is past red, as the board colours it: an ASAP one when its time
  reaches the red threshold, a timed one when it is not Ready by the time it is due; an open one
  counts by the clock now;
- canceled and failed orders count as orders placed, and nowhere else.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from server.insights.days import QUARTER, SLOTS, slot_of, today_in
from server.lifecycle import ACTIVE, OrderStatus
from server.orders.model import OrderType
from server.orders.stats import percentile, station_timings
from server.schedule import PrepTimes, fire_times

ITEM_MIX: Final = 10  # the top items shown
LATE_LISTED: Final = 200  # late tickets listed by name; all of them are counted
_STOPPED: Final = frozenset({OrderStatus.CANCELED, OrderStatus.FAILED})


# -- what the service reads ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Placed:
    """An order, as much of it as the day's figures read."""

    order_id: str
    title: str  # its reference, display name or id: what the late list calls it
    status: OrderStatus
    order_type: OrderType
    product: str | None  # the Dojo product that placed it; None: staff or the POS
    created_at: datetime
    readied_at: datetime | None
    due_at: datetime | None  # a timed order's (server/schedule.due_of); None: ASAP

    @property
    def stopped(self) -> bool:
        return self.status in _STOPPED


@dataclass(frozen=True, slots=True)
class Made:
    """An item line (not a sub-item) of one of the day's orders."""

    order_id: str
    name: str
    quantity: int
    station: str | None
    routed_at: datetime | None
    done_at: datetime | None
    voided: bool


@dataclass(frozen=True, slots=True)
class Rules:
    """What the figures are judged by: the KDS's thresholds and timed orders' prep times."""

    amber_seconds: int
    red_seconds: int
    prep: PrepTimes


# -- what the doors render ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Series:
    """One stack of the orders chart: a Dojo product (None: staff or the POS) and an order type."""

    product: str | None
    order_type: OrderType
    orders: int

    @property
    def label(self) -> str:
        kind = "dine in" if self.order_type is OrderType.DINE_IN else "collection"
        return f"{self.product or 'Staff / POS'} · {kind}"


@dataclass(frozen=True, slots=True)
class Slot:
    """A quarter hour of the venue's wall clock: orders placed in it, by series, and last week's."""

    start: time
    counts: tuple[int, ...]  # in the order of Figures.series
    last_week: int

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True, slots=True)
class Timing:
    samples: int
    median_seconds: float | None  # None without samples
    p90_seconds: float | None


@dataclass(frozen=True, slots=True)
class Hour:
    """Ticket times of the orders that arrived in an hour of the wall clock, and last week's."""

    hour: int
    today: Timing
    last_week: Timing


@dataclass(frozen=True, slots=True)
class StationDay:
    station: str
    name: str
    made: int  # item lines it bumped, of the day's orders
    median_seconds: float | None  # arrival at the station to its bump
    p90_seconds: float | None
    waiting: int  # item lines there still to make now, on the day's open orders that have arrived


@dataclass(frozen=True, slots=True)
class Late:
    order_id: str
    title: str
    arrived_at: datetime
    readied_at: datetime | None  # None: still not Ready
    seconds: float  # its ticket time, or so far
    over_seconds: float  # how far past red (an ASAP ticket) or past due (a timed one)
    timed: bool


@dataclass(frozen=True, slots=True)
class Figures:
    day: date
    last_week_day: date
    timezone: str
    live: bool  # the day is running: the page keeps itself up to date
    amber_seconds: int
    red_seconds: int
    orders: int
    last_week_orders: int
    series: tuple[Series, ...]  # most orders first
    slots: tuple[Slot, ...]  # all 96 quarter hours
    ticket_time: Timing  # the whole day
    last_week_ticket_time: Timing
    hours: tuple[Hour, ...]  # all 24
    stations: tuple[StationDay, ...]  # in the venue's order
    late_count: int
    late: tuple[Late, ...]  # the first LATE_LISTED of them, by arrival
    item_mix: tuple[tuple[str, int], ...]  # the top ITEM_MIX item names, most first, by quantity


# -- the figures --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Day:
    """One day's rows: its orders, where each of their item lines went (order, station: what a
    timed order's arrival needs), and the lines themselves for the day the figures are about."""

    day: date
    orders: Sequence[Placed]
    routed: Sequence[tuple[str, str | None]]
    items: Sequence[Made] = ()

    @classmethod
    def of(cls, day: date, orders: Sequence[Placed], items: Sequence[Made]) -> Day:
        return cls(day, orders, [(item.order_id, item.station) for item in items], items)


def figures(
    today: Day,
    last_week: Day,
    *,
    stations: Mapping[str, str],
    rules: Rules,
    zone: ZoneInfo,
    now: datetime,
) -> Figures:
    """`stations`: every station's name by id, in the venue's order."""
    arrivals = arrived(today, rules.prep) | arrived(last_week, rules.prep)
    series = _series(today.orders)
    late = sorted(
        (found for order in today.orders if (found := _late(order, arrivals[order.order_id], rules, now))),
        key=lambda found: (found.arrived_at, found.order_id),
    )
    return Figures(
        day=today.day,
        last_week_day=last_week.day,
        timezone=zone.key,
        live=today.day == today_in(zone, now),
        amber_seconds=rules.amber_seconds,
        red_seconds=rules.red_seconds,
        orders=len(today.orders),
        last_week_orders=len(last_week.orders),
        series=series,
        slots=_slots(today.orders, last_week.orders, series, zone),
        ticket_time=timing(_ticket_times(today.orders, arrivals).values()),
        last_week_ticket_time=timing(_ticket_times(last_week.orders, arrivals).values()),
        hours=_hours(today.orders, last_week.orders, arrivals, zone),
        stations=_stations(today, stations, rules.prep, now),
        late_count=len(late),
        late=tuple(late[:LATE_LISTED]),
        item_mix=_item_mix(today),
    )


def timing(seconds: Iterable[float]) -> Timing:
    found = list(seconds)
    if not found:
        return Timing(0, None, None)
    return Timing(len(found), statistics.median(found), percentile(found, 90))


def arrived(day: Day, prep: PrepTimes) -> dict[str, datetime]:
    """When each of the day's orders arrived on the line."""
    stations: defaultdict[str, set[str | None]] = defaultdict(set)
    for order_id, station in day.routed:
        stations[order_id].add(station)
    return {order.order_id: _arrival(order, stations[order.order_id], prep) for order in day.orders}


def _arrival(order: Placed, stations: Iterable[str | None], prep: PrepTimes) -> datetime:
    if order.due_at is None:
        return order.created_at
    return max(order.created_at, fire_times(order.due_at, stations, prep)[None])


def _series(orders: Sequence[Placed]) -> tuple[Series, ...]:
    counted = Counter((order.product, order.order_type) for order in orders)
    found = [Series(product, order_type, n) for (product, order_type), n in counted.items()]
    return tuple(sorted(found, key=lambda s: (-s.orders, s.label)))


def _slots(
    orders: Sequence[Placed], before: Sequence[Placed], series: Sequence[Series], zone: ZoneInfo
) -> tuple[Slot, ...]:
    index = {(s.product, s.order_type): n for n, s in enumerate(series)}
    counts = [[0] * len(series) for _ in range(SLOTS)]
    for order in orders:
        counts[slot_of(order.created_at, zone)][index[(order.product, order.order_type)]] += 1
    earlier = Counter(slot_of(order.created_at, zone) for order in before)
    return tuple(
        Slot(time(n * QUARTER // 60, n * QUARTER % 60), tuple(counts[n]), earlier[n]) for n in range(SLOTS)
    )


def _ticket_times(orders: Sequence[Placed], arrivals: Mapping[str, datetime]) -> dict[str, float]:
    """Each order made Ready (and not stopped since): seconds from its arrival to Ready."""
    return {
        order.order_id: max((order.readied_at - arrivals[order.order_id]).total_seconds(), 0.0)
        for order in orders
        if order.readied_at is not None and not order.stopped
    }


def _hours(
    orders: Sequence[Placed], before: Sequence[Placed], arrivals: Mapping[str, datetime], zone: ZoneInfo
) -> tuple[Hour, ...]:
    def by_hour(found: Sequence[Placed]) -> defaultdict[int, list[float]]:
        hours: defaultdict[int, list[float]] = defaultdict(list)
        for order_id, seconds in _ticket_times(found, arrivals).items():
            hours[arrivals[order_id].astimezone(zone).hour].append(seconds)
        return hours

    now, then = by_hour(orders), by_hour(before)
    return tuple(Hour(hour, timing(now[hour]), timing(then[hour])) for hour in range(24))


def _late(order: Placed, arrival: datetime, rules: Rules, now: datetime) -> Late | None:
    """The order's lateness, if it is late (by its Ready, or by now while it is still open)."""
    if order.stopped or (order.readied_at is None and order.status not in ACTIVE):
        return None
    end = order.readied_at or now
    limit = order.due_at if order.due_at is not None else arrival + timedelta(seconds=rules.red_seconds)
    if end < limit:
        return None
    seconds = max((end - arrival).total_seconds(), 0.0)
    over = (end - limit).total_seconds()
    return Late(
        order.order_id, order.title, arrival, order.readied_at, seconds, over, order.due_at is not None
    )


def _stations(day: Day, names: Mapping[str, str], prep: PrepTimes, now: datetime) -> tuple[StationDay, ...]:
    """Each station's items bumped (arrival there to the bump) and still waiting, through the
    kitchen's own speed-of-service maths (server/orders/stats.py)."""
    orders = {order.order_id: order for order in day.orders}
    done, waiting = [], Counter[str]()
    for item in day.items:
        order = orders.get(item.order_id)
        if order is None or item.station is None or item.voided:
            continue
        arrival = _at_station(item, order, prep)
        if item.done_at is not None:
            done.append((item.station, arrival, item.done_at))
        elif order.status in ACTIVE and arrival <= now:
            waiting[item.station] += 1
    return tuple(
        StationDay(
            t.station, names.get(t.station, t.station), t.samples, t.median_seconds, t.p90_seconds, t.waiting
        )
        for t in station_timings(names, done, waiting)
    )


def _at_station(item: Made, order: Placed, prep: PrepTimes) -> datetime:
    routed = item.routed_at or order.created_at
    return routed if order.due_at is None else max(routed, order.due_at - prep.at(item.station))


def _item_mix(day: Day) -> tuple[tuple[str, int], ...]:
    kept = {order.order_id for order in day.orders if not order.stopped}
    counted: Counter[str] = Counter()
    for item in day.items:
        if item.order_id in kept and not item.voided:
            counted[item.name] += item.quantity
    return tuple(sorted(counted.items(), key=lambda pair: (-pair[1], pair[0]))[:ITEM_MIX])
