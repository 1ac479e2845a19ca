"""Speed of service: how many orders are in each status, how long orders spent in each status
(median and 90th percentile, from the history), and per prep station how long its items took
from arriving there to its bump, and how many wait now. Pure functions over what was read."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from server.changes.model import HistoryEntry
from server.lifecycle import OrderStatus


@dataclass(frozen=True, slots=True)
class StatusTiming:
    status: OrderStatus
    samples: int
    median_seconds: float
    p90_seconds: float


@dataclass(frozen=True, slots=True)
class StationTiming:
    station: str
    waiting: int  # items still to make there, on open orders
    samples: int  # items it bumped since `since`
    median_seconds: float | None
    p90_seconds: float | None


@dataclass(frozen=True, slots=True)
class KitchenStats:
    since: datetime
    orders_by_status: Mapping[OrderStatus, int]
    timings: tuple[StatusTiming, ...]
    stations: tuple[StationTiming, ...] = ()


def station_timings(
    stations: Iterable[str], done: Iterable[tuple[str, datetime, datetime]], waiting: Mapping[str, int]
) -> tuple[StationTiming, ...]:
    """Every station in the venue's order, each from its items bumped (station, arrived, done)."""
    took: defaultdict[str, list[float]] = defaultdict(list)
    for station, routed_at, done_at in done:
        took[station].append(max((done_at - routed_at).total_seconds(), 0.0))
    names = list(dict.fromkeys([*stations, *took, *waiting]))  # a removed station's items still count
    return tuple(
        StationTiming(
            name,
            waiting.get(name, 0),
            len(took[name]),
            statistics.median(took[name]) if took[name] else None,
            percentile(took[name], 90) if took[name] else None,
        )
        for name in names
    )


def kitchen_stats(
    *, since: datetime, counts: Mapping[OrderStatus, int], entries: Iterable[HistoryEntry]
) -> KitchenStats:
    """Time in a status runs from the entry that moved an order into it to the one that moved it
    out; only stays that began and ended since `since` count."""
    spent: defaultdict[OrderStatus, list[float]] = defaultdict(list)
    entered: dict[str, tuple[OrderStatus, datetime]] = {}
    for entry in entries:
        if entry.to_status is None:
            continue
        previous = entered.get(entry.order_id)
        if previous is not None and previous[0] is entry.from_status:
            spent[previous[0]].append((entry.at - previous[1]).total_seconds())
        entered[entry.order_id] = (entry.to_status, entry.at)
    timings = tuple(
        StatusTiming(
            status, len(spent[status]), statistics.median(spent[status]), percentile(spent[status], 90)
        )
        for status in OrderStatus
        if spent[status]
    )
    return KitchenStats(since, {status: counts.get(status, 0) for status in OrderStatus}, timings)


def percentile(values: list[float], p: int) -> float:
    """Nearest-rank percentile: a value some order really took, not an interpolation."""
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]
