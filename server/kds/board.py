"""What the kitchen display shows, composed in one place from the orders and prep services: a
board, one ticket, the recall list, the all-day counts, the scheduled strip, what is not shown,
and which Dojo products' new orders are paused (the banner, and the header's pause control).
The door (pages.py) parses a request, asks one of these, and renders the answer. Whether a
screen may bump, and whether a timed order is on the line yet (server/schedule.py, by the
server's clock), are decided here, once, for the board and every fragment alike."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, TypeAlias
from zoneinfo import ZoneInfo

import orjson

from server.actors import Actor
from server.allergens import Matcher
from server.changes.model import ChangeKind, HistoryEntry
from server.clock import Clock
from server.floor import rows as floor_rows
from server.floor.model import Place
from server.floor.service import Floor
from server.kds.tickets import Ticket, station_names, table_of, tables_of, ticket
from server.lifecycle import RECALL
from server.ordering.model import LABELS, PAUSABLE, DojoProduct, Pause
from server.ordering.service import Ordering
from server.orders import rows as order_rows
from server.orders.model import Order
from server.orders.service import Orders
from server.schedule import PrepTimes, fire_at, held
from server.settings import Settings
from server.staff.roles import Permission
from server.stages import STAGES, Stage, of_station, stage_of, station_stage
from server.stations.prep import Prep
from server.stations.routing import Routing, Station
from server.store import Store

# Tickets made and kept (`Board._ticket`): a busy venue's open tickets on each of its stages;
# ~2.5 KB each beside its order (kept by server/orders/rows.order_of).
KEPT_TICKETS: Final = 1024
# What a kept ticket was made from: its order (by identity), the stage, the station names, the table.
_MadeKey: TypeAlias = tuple[int, Stage, tuple[tuple[str, str], ...], Place | None]


@dataclass(frozen=True, slots=True)
class BoardView:
    stage: Stage
    stages: tuple[Stage, ...]  # the header's links
    stations: tuple[Stage, ...]  # each station's screen, in screen order: the header's other links
    sequence: int  # live updates resume after this change
    tickets: tuple[Ticket, ...]
    scheduled: tuple[Scheduled, ...]  # timed orders held off the line until they fire
    more: int  # open orders of this stage past the board's limit: said, never silently left out
    can_bump: bool
    ordering: OrderingView


@dataclass(frozen=True, slots=True)
class PauseLine:
    """One paused product, as the banner says it."""

    product: DojoProduct
    label: str  # "Order & Pay"
    until_ms: int | None  # when it ends, for the countdown (by the server's clock); None: until resumed
    until: str | None  # in the venue's time zone: "18:15"
    by: str  # who paused it


@dataclass(frozen=True, slots=True)
class OrderingView:
    """The banner of what is paused, and what the header's pause control offers this screen."""

    paused: tuple[PauseLine, ...]
    products: tuple[tuple[DojoProduct, str], ...]  # what may be paused, with its label
    minutes: tuple[int, ...]  # the lengths offered
    can_pause: bool  # a kitchen token or better


@dataclass(frozen=True, slots=True)
class Scheduled:
    """A timed order held off the line, as the scheduled strip lists it."""

    ticket: Ticket
    fires_at: datetime
    fires: str  # in the venue's time zone: "18:15"


@dataclass(frozen=True, slots=True)
class Happened:
    """One entry of an order's history, as its page lists it (times in the venue's zone)."""

    at: str  # "12:07:31"
    what: str  # "Prepared → Ready", "Items done at a station"
    who: str  # "staff:pass", "dojo", "pos"
    detail: str  # the entry's detail, as JSON, or ""


@dataclass(frozen=True, slots=True)
class HistoryView:
    ticket: Ticket
    placed: str  # "Fri 27 Nov 2026 12:00"
    entries: tuple[Happened, ...]


@dataclass(frozen=True, slots=True)
class TicketView:
    ticket: Ticket
    on_stage: bool  # the board keeps it, or removes it (a canceled one after its banner)
    can_bump: bool


class Board:
    def __init__(
        self,
        *,
        store: Store,
        orders: Orders,
        prep: Prep,
        floor: Floor,
        ordering: Ordering,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self.store = store  # what one ticket shows is read in one snapshot (`ticket`)
        self.orders = orders
        self.prep = prep
        self.floor = floor
        self.pausing = ordering
        self.settings = settings
        self.clock = clock
        self.zone = ZoneInfo(settings.timezone)
        self.allergens = Matcher(settings.kds_allergen_words)
        self._tickets_made: dict[_MadeKey, tuple[Order, Ticket]] = {}

    @staticmethod
    def may_bump(screen: Actor) -> bool:
        """A screen is offered bumps only where its token may move orders (a viewer's is not)."""
        return screen.may(Permission.MOVE)

    async def ordering(self, screen: Actor) -> OrderingView:
        """What is paused now (read from the store: a screen that reconnects is right at once),
        and whether this screen may pause and resume (a kitchen token or better)."""
        now = self.clock.now()
        paused = (await self.pausing.current()).in_force(now)
        return OrderingView(
            paused=tuple(self._line(pause) for pause in paused),
            products=tuple((product, LABELS[product]) for product in PAUSABLE),
            minutes=self.pausing.minutes,
            can_pause=screen.may(Permission.PAUSE),
        )

    def _line(self, pause: Pause) -> PauseLine:
        until = pause.until
        return PauseLine(
            product=pause.product,
            label=LABELS[pause.product],
            until_ms=int(until.timestamp() * 1000) if until else None,
            until=f"{until.astimezone(self.zone):%H:%M}" if until else None,
            by=pause.by.name or pause.by.kind.value,
        )

    def now_ms(self) -> int:
        """The server's clock, so a screen times tickets by it rather than by its own."""
        return int(self.clock.now().timestamp() * 1000)

    async def stage(self, *, station: str | None, stage: str | None) -> Stage:
        """`?station=grill` is that station's screen (NotFound if there is none); else `?stage=`."""
        if station is not None:
            return station_stage(await self.prep.routing(), station)
        return stage_of(stage)

    async def stations(self) -> tuple[Station, ...]:
        return _in_screen_order((await self.prep.routing()).stations)

    async def board(self, stage: Stage, screen: Actor) -> BoardView:
        sequence = await self.orders.last_sequence()  # first: live updates resume from here
        active = await self.orders.active(stage, limit=self.settings.kds_board_limit)
        routing = await self.prep.routing()
        waiting = self._held(active.orders, stage, routing)
        later = {order.id for order in waiting}
        shown = [order for order in active.orders if stage.shows(order) and order.id not in later]
        made = await self._tickets([*shown, *waiting], stage, routing)  # the floor read once for both
        return BoardView(
            stage=stage,
            stages=tuple(STAGES.values()),
            stations=tuple(of_station(station) for station in _in_screen_order(routing.stations)),
            sequence=sequence,
            tickets=made[: len(shown)],
            scheduled=self._scheduled(waiting, made[len(shown) :], stage, routing),
            more=active.total - len(shown) - len(waiting),
            can_bump=self.may_bump(screen),
            ordering=await self.ordering(screen),
        )

    async def ticket(self, order_id: str, stage: Stage, screen: Actor) -> TicketView | None:
        """One ticket as this screen shows it, or None if there is no such order. A timed order
        not yet fired is not on the line (it is in the scheduled strip)."""
        routing = await self.prep.routing()  # this process's copy
        async with self.store.read() as tx:  # one snapshot: a screen fetches one after every change
            found = await order_rows.load_orders(tx, [order_id])
            if not found:
                return None
            tables = tables_of(found)
            places = await floor_rows.places(tx, tables) if tables else {}
        (order,) = found
        (made,) = self._made([order], stage, routing, places)
        on_line = stage.shows(order) and not self._held([order], stage, routing)
        return TicketView(made, on_line, self.may_bump(screen))

    async def history(self, order_id: str) -> HistoryView:
        """An order's ticket and everything that happened to it, oldest first (NotFound if none):
        where the insights page's late tickets lead. Any paired screen may read it."""
        order = await self.orders.get(order_id)
        entries = await self.orders.history(order_id)
        (made,) = await self._tickets([order], STAGES["all"], await self.prep.routing())
        placed = f"{order.created_at.astimezone(self.zone):%a %d %b %Y %H:%M}"
        return HistoryView(made, placed, tuple(self._happened(entry) for entry in entries))

    def _happened(self, entry: HistoryEntry) -> Happened:
        what = _KINDS.get(entry.kind, entry.kind.value)
        if entry.to_status is not None:
            what = f"{entry.from_status.value if entry.from_status else 'Placed'} → {entry.to_status.value}"
        detail = orjson.dumps(entry.detail).decode() if entry.detail else ""
        return Happened(f"{entry.at.astimezone(self.zone):%H:%M:%S}", what, entry.actor.label, detail)

    async def all_day(self, stage: Stage) -> list[tuple[str, int]]:
        """What the line has to make now: a timed order counts once it fires."""
        active = await self.orders.active(stage, limit=self.settings.kds_board_limit)
        later = {order.id for order in self._held(active.orders, stage, await self.prep.routing())}
        return stage.all_day(order for order in active.orders if order.id not in later)

    async def scheduled(self, stage: Stage) -> tuple[Scheduled, ...]:
        """The timed orders this screen holds off its line, the next to fire first."""
        routing = await self.prep.routing()
        waiting = self._held(await self.orders.timed(stage), stage, routing)
        return self._scheduled(waiting, await self._tickets(waiting, stage, routing), stage, routing)

    async def more(self, stage: Stage, *, shown: int) -> int:
        """How many of this stage's open orders a board showing `shown` of them (tickets and
        scheduled alike) leaves out."""
        return max(await self.orders.active_count(stage) - shown, 0)

    async def recall(self, stage: Stage) -> tuple[Ticket, ...]:
        """What this screen bumped last and can bring back: a station its own items, others the
        orders whose recall lands on this stage."""
        window = timedelta(minutes=self.settings.kds_recall_minutes)
        limit = self.settings.kds_recall_limit
        if stage.station is not None:
            recallable = await self.prep.recently_done(stage.station, window=window, limit=limit)
        else:
            bumped = await self.orders.recently_bumped(window=window, limit=limit)
            recallable = [order for order in bumped if RECALL[order.status] in stage.statuses]
        return await self._tickets(recallable, stage, await self.prep.routing())

    def _prep(self, routing: Routing) -> PrepTimes:
        return PrepTimes.of(routing, minutes=self.settings.prep_minutes)

    def _held(self, orders: list[Order], stage: Stage, routing: Routing) -> list[Order]:
        """The orders among these that wait off this screen's line, by the server's clock."""
        prep, now = self._prep(routing), self.clock.now()
        return [
            order
            for order in orders
            if stage.shows(order) and held(order, prep, now=now, station=stage.station)
        ]

    def _scheduled(
        self, orders: list[Order], made: tuple[Ticket, ...], stage: Stage, routing: Routing
    ) -> tuple[Scheduled, ...]:
        """These held orders (`made`: their tickets), the next to fire first."""
        prep = self._prep(routing)
        times = [fire_at(order, prep, station=stage.station) for order in orders]
        found = [
            Scheduled(ticket, at, f"{at.astimezone(self.zone):%H:%M}")
            for ticket, at in zip(made, times, strict=True)
            if at is not None
        ]
        return tuple(sorted(found, key=lambda each: (each.fires_at, each.ticket.order_id)))

    async def _tickets(self, orders: list[Order], stage: Stage, routing: Routing) -> tuple[Ticket, ...]:
        """The tickets of these orders, with the names of their stations and of the tables the
        floor knows (one read for all of them, never one per ticket)."""
        return self._made(orders, stage, routing, await self.floor.places(tables_of(orders)))

    def _made(
        self, orders: list[Order], stage: Stage, routing: Routing, places: Mapping[str, Place]
    ) -> tuple[Ticket, ...]:
        """Each order's ticket, made once for each order as read (server/orders/rows.order_of
        gives the same Order for the same rows), stage, station names and table: every screen
        fetches a ticket after every change, and making one cost ~50 us (bench/reads.py)."""
        names = station_names(routing)
        return tuple(self._ticket(order, stage, names, places) for order in orders)

    def _ticket(
        self, order: Order, stage: Stage, names: Mapping[str, str], places: Mapping[str, Place]
    ) -> Ticket:
        key = (id(order), stage, tuple(names.items()), places.get(table_of(order) or ""))
        kept = self._tickets_made.get(key)
        # The entry holds its order, so no other object can have that id while it is kept.
        if kept is not None and kept[0] is order:
            return kept[1]
        made = ticket(
            order, timezone=self.zone, stage=stage, stations=names, places=places, allergens=self.allergens
        )
        if len(self._tickets_made) >= KEPT_TICKETS:
            self._tickets_made.clear()  # a fresh start: the next fetches make them again
        self._tickets_made[key] = (order, made)
        return made


_KINDS: Final = {
    ChangeKind.PAYMENT_CHANGED: "Payment",
    ChangeKind.PREP_CHANGED: "Items done (or brought back) at a station",
    ChangeKind.ITEMS_CHANGED: "Items added or voided",
    ChangeKind.LOCK_OVERRIDDEN: "Dojo's lock released",
    ChangeKind.FIRED: "Fired: on the line",
}


def _in_screen_order(stations: tuple[Station, ...]) -> tuple[Station, ...]:
    return tuple(sorted(stations, key=lambda station: (station.position, station.id)))
