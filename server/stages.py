"""The stages of the pass: which open orders each kitchen screen shows, and which of their items.
The statuses are the lifecycle's (server/lifecycle.py); a prep station's screen is a stage too:
the orders still in the kitchen that have items routed to it, only those items, until the
station has done them all (then the ticket leaves it). No I/O: the orders service filters by a
stage in SQL, the KDS renders it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from server.errors import InvalidRequest, NotFound
from server.lifecycle import ACTIVE, EXPO, KITCHEN, READY_BOARD, OrderStatus
from server.orders.model import Order, OrderItem, OrderType
from server.stations.routing import PrepLine, Routing, Station
from server.text import folded


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    title: str
    statuses: frozenset[OrderStatus]
    collection_only: bool = False
    station: str | None = None  # a station's screen: its own items, until it has done them all
    label: str = ""  # what the board's header calls it, where it differs from the title

    @property
    def link(self) -> str:
        """Where the board's header sends a cook to see this stage."""
        if self.station is not None:
            return f"/kds?station={self.station}"
        return "/kds/ready" if self.collection_only else f"/kds?stage={self.name}"

    def shows(self, order: Order) -> bool:
        if self.collection_only and order.content.details.order_type is not OrderType.COLLECTION:
            return False
        if self.station is not None and all(line.done for line in at_station(order, self.station)):
            return False  # nothing for this station, or its part is done
        return order.status in self.statuses

    def items(self, order: Order) -> list[tuple[OrderItem, PrepLine | None]]:
        """What a ticket on this screen lists: every item, or the station's own."""
        pairs = order.lines()
        if self.station is None:
            return pairs
        return [(item, line) for item, line in pairs if line is not None and line.station == self.station]

    def all_day(self, orders: Iterable[Order]) -> list[tuple[str, int]]:
        """How many of each item this screen's tickets hold, most first; a station counts only
        what it has still to make."""
        pairs = [pair for order in orders if self.shows(order) for pair in self.items(order)]
        return count_items(item for item, line in pairs if self.station is None or not (line and line.done))


STAGES: Final[Mapping[str, Stage]] = {
    "all": Stage("all", "All active", ACTIVE, label="All"),
    "kitchen": Stage("kitchen", "Kitchen", KITCHEN),
    "expo": Stage("expo", "Expo", EXPO),
    "ready": Stage("ready", "Ready to collect", READY_BOARD, collection_only=True, label="Ready board"),
}


def stage_of(name: str | None) -> Stage:
    found = STAGES.get(name or "all")
    if found is None:
        raise InvalidRequest(f"stage: no stage {name!r}; one of {', '.join(STAGES)}", field="stage")
    return found


def station_stage(routing: Routing, station_id: str) -> Stage:
    """A station's screen: the kitchen's orders, as far as they hold items for it."""
    station = next((station for station in routing.stations if station.id == station_id), None)
    if station is None:
        known = ", ".join(station.id for station in routing.stations)
        raise NotFound(f"no station {station_id!r}; the stations are {known}")
    return of_station(station)


def of_station(station: Station) -> Stage:
    return Stage("station", station_title(station.name), KITCHEN, station=station.id)


def station_title(name: str) -> str:
    """What screens call a station: its name, or "Kitchen station" where a stage goes by that
    name too (a new venue's one station is called Kitchen, like the kitchen's stage), so a
    header never shows two things called the same."""
    taken = {folded(name) for stage in STAGES.values() for name in (stage.title, stage.label) if name}
    return f"{name} station" if folded(name) in taken else name


def at_station(order: Order, station: str) -> list[PrepLine]:
    return [line for line in order.prep if line.station == station]


def count_items(items: Iterable[OrderItem]) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter()
    for item in items:
        counts[item.name] += item.quantity
        for sub_item in item.sub_items:
            counts[sub_item.name] += sub_item.quantity * item.quantity
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
