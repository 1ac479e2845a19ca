"""Speed of service, from the history: how many orders are in each status, and how long orders
spent in each status (median and 90th percentile). Pure functions over history entries."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from server.history import HistoryEntry
from server.lifecycle import OrderStatus


@dataclass(frozen=True, slots=True)
class StatusTiming:
    status: OrderStatus
    samples: int
    median_seconds: float
    p90_seconds: float


@dataclass(frozen=True, slots=True)
class KitchenStats:
    since: datetime
    orders_by_status: Mapping[OrderStatus, int]
    timings: tuple[StatusTiming, ...]


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
