"""A ticket, as a kitchen screen shows it, with no I/O: what it says about an order on a stage
(server/stages.py), its lines, allergens, payment badge and timers, and what the scheduled strip
and the ready board say of it. The KDS templates render these; the rules live here."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from server.allergens import Matcher, ordered
from server.floor.model import Place
from server.lifecycle import RECALL, Bump, OrderStatus, bump_of
from server.orders.model import Order, OrderItem, OrderSubItem, OrderType
from server.payments.model import PaymentStatus
from server.schedule import due_at
from server.stages import STAGES, Stage, count_items
from server.stations.routing import PrepLine, Routing

S = OrderStatus
STANDARD: Final = Matcher()  # the 14 allergens alone, for a venue that adds no words of its own


@dataclass(frozen=True, slots=True)
class Said:
    """A piece of a ticket's text (an item's name, a modifier, a note) and the allergens it
    names itself: it stands out exactly when it names one."""

    text: str
    allergens: tuple[str, ...] = ()

    @property
    def allergy(self) -> bool:
        return bool(self.allergens)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Line:
    quantity: int
    name: Said
    modifiers: tuple[Said, ...]
    note: Said | None
    sub_items: tuple[Line, ...] = ()
    number: int | None = None  # the item's line, as a station's bump names it
    station: str | None = None  # the station's name, where the venue has more than one
    done: bool = False  # its station has bumped it
    added: bool = False  # added after the order was placed (an edit after firing)
    voided: bool = False  # taken off the order since: shown struck through, never made

    def said(self) -> Iterator[Said]:
        """Every piece of text on the line, its sub-items' included."""
        yield self.name
        yield from self.modifiers
        if self.note is not None:
            yield self.note
        for sub_item in self.sub_items:
            yield from sub_item.said()


@dataclass(frozen=True, slots=True)
class Ticket:
    order_id: str
    status: OrderStatus
    title: str
    serves: str  # the table's name ("Window 3"), else "Table 5"; "Collect ASAP", "Collect 18:30"; a
    # pre-ordered table's time after it ("Table 5 for 19:00")
    area: str | None  # the table's area, where the floor knows the table
    kind: OrderType  # dine in or collection: each its own colour
    product: str | None  # the Dojo product it came from ("Pay at Table", "Order&Pay"): its own badge
    pickup: str  # what the ready board calls it: the customer's name ("Ann E."), else the title
    lines: tuple[Line, ...]
    note: Said | None
    allergens: tuple[str, ...]  # every allergen its lines and note name: the header's marker
    payment: str  # paid, authorised or unpaid
    created_at: datetime
    due_at: datetime | None  # a timed order's: its timer counts against this, not when it was placed
    bump: Bump | None  # what its bump button does and says, or why it is not offered yet
    recall_to: OrderStatus | None

    @property
    def created_ms(self) -> int:
        return int(self.created_at.timestamp() * 1000)

    @property
    def due_ms(self) -> int | None:
        return int(self.due_at.timestamp() * 1000) if self.due_at else None

    @property
    def canceled(self) -> bool:
        return self.status is S.CANCELED

    @property
    def kind_name(self) -> str:
        return "dine-in" if self.kind is OrderType.DINE_IN else "collection"

    @property
    def product_name(self) -> str:
        """The product as a class name: `order-pay`, `pay-at-table`."""
        return re.sub(r"[^a-z0-9]+", "-", (self.product or "").casefold()).strip("-")


def ticket(
    order: Order,
    *,
    timezone: ZoneInfo,
    stage: Stage | None = None,
    stations: Mapping[str, str] | None = None,
    places: Mapping[str, Place] | None = None,
    allergens: Matcher = STANDARD,
) -> Ticket:
    """The ticket of an order on a stage's screen (all its items, or a station's); `stations`
    names the station each item went to (see `station_names`), `places` the tables the floor
    knows (see `tables_of`), `allergens` the venue's matcher."""
    content = order.content
    place = (places or {}).get(table_of(order) or "")
    stage = stage or STAGES["all"]
    names = stations or {}
    lines = [_item_line(order, item, line, names, allergens) for item, line in stage.items(order)]
    lines += [
        _line_of(order, voided.item, voided.line, voided.station, names, allergens, voided=True)
        for voided in order.voided
        if stage.station is None or voided.station == stage.station
    ]
    note = said(content.note, allergens)
    return Ticket(
        order_id=order.id,
        status=order.status,
        title=title(order),
        serves=serves(order, timezone, table=place.table if place else None),
        area=place.area if place else None,
        kind=content.details.order_type,
        product=order.requesting_product,
        pickup=pickup(order),
        lines=tuple(sorted(lines, key=lambda line: line.number or 0)),
        note=note,
        allergens=marker(lines, note),
        payment=payment_badge(order),
        created_at=order.created_at,
        due_at=due_at(order),
        bump=bump_of(order.status, paid_in_full=order.paid_in_full),
        recall_to=RECALL.get(order.status),
    )


def title(order: Order) -> str:
    content = order.content
    return content.reference or content.display_name or order.id


def pickup(order: Order) -> str:
    """How the ready board calls a customer: first name and initial ("Ann E."), on a screen the
    whole room reads; the ticket's title where no name was given."""
    customer = order.content.customer
    names = (customer.name or "").split() if customer else []
    if not names:
        return title(order)
    return " ".join([names[0], *(f"{rest[0]}." for rest in names[1:2])])


def serves(order: Order, timezone: ZoneInfo, *, table: str | None = None) -> str:
    """Where an order goes: its table (`table`: its name, where the floor knows it), or its
    collection time; a pre-ordered table's time after it."""
    details = order.content.details
    if details.order_type is OrderType.DINE_IN:
        table = table or (f"Table {table_of(order)}" if table_of(order) else "Dine in")
        ready = details.dine_in.ready_at if details.dine_in else None
        return f"{table} for {ready.astimezone(timezone):%H:%M}" if ready else table
    collection = details.collection
    if collection is None or collection.asap or collection.collect_at is None:
        return "Collect ASAP"
    return f"Collect {collection.collect_at.astimezone(timezone):%H:%M}"


def table_of(order: Order) -> str | None:
    dine_in = order.content.details.dine_in
    return dine_in.table_id if dine_in else None


def tables_of(orders: Iterable[Order]) -> set[str]:
    """The tables these orders name: what a board asks the floor about, once."""
    return {table for order in orders if (table := table_of(order))}


def payment_badge(order: Order) -> str:
    if not order.paid_in_full:
        return "unpaid"
    authorised_only = any(p.status is PaymentStatus.AUTHORIZED for p in order.counted_payments)
    return "authorised" if authorised_only else "paid"


def said(text: str | None, allergens: Matcher) -> Said | None:
    return None if text is None else Said(text, ordered(allergens.named(text)))


def marker(lines: Iterable[Line], note: Said | None) -> tuple[str, ...]:
    """What the ticket's header warns of: every allergen named on it, but not by a voided line
    (it will not be made)."""
    named = [part.allergens for line in lines if not line.voided for part in line.said()]
    return ordered(label for labels in (*named, note.allergens if note else ()) for label in labels)


def all_day(orders: Iterable[Order]) -> list[tuple[str, int]]:
    """How many of each item (and sub-item) the open tickets hold, most first."""
    return count_items(item for order in orders for item in order.content.items)


def station_names(routing: Routing) -> dict[str, str]:
    """What a ticket's lines say about where they were made: nothing in a one-station venue."""
    return {station.id: station.name for station in routing.stations} if len(routing.stations) > 1 else {}


def _item_line(
    order: Order, item: OrderItem, prep: PrepLine | None, stations: Mapping[str, str], allergens: Matcher
) -> Line:
    if prep is None:
        return _line(item, allergens, item.sub_items)
    added = order.added_later(prep)
    return _line_of(order, item, prep.line, prep.station, stations, allergens, added=added, done=prep.done)


def _line_of(
    order: Order,
    item: OrderItem,
    number: int,
    station: str | None,
    stations: Mapping[str, str],
    allergens: Matcher,
    *,
    added: bool = False,
    voided: bool = False,
    done: bool = False,
) -> Line:
    named = stations.get(station, station) if stations and station else None
    return _line(
        item, allergens, item.sub_items, number=number, station=named, done=done, added=added, voided=voided
    )


def _line(
    item: OrderSubItem,
    allergens: Matcher,
    sub_items: Iterable[OrderSubItem] = (),
    *,
    number: int | None = None,
    station: str | None = None,
    done: bool = False,
    added: bool = False,
    voided: bool = False,
) -> Line:
    """Each part judged on its own words: a note is never red because a modifier beside it is."""
    modifiers = (f"{m.quantity}× {m.name}" if m.quantity > 1 else m.name for m in item.modifiers)  # noqa: RUF001
    return Line(
        quantity=item.quantity,
        name=Said(item.name, ordered(allergens.named(item.name))),
        modifiers=tuple(Said(text, ordered(allergens.named(text))) for text in modifiers),
        note=said(item.note, allergens),
        sub_items=tuple(_line(sub_item, allergens) for sub_item in sub_items),
        number=number,  # where the line stands, given here: a dataclasses.replace cost ~4 us a copy
        station=station,
        done=done,
        added=added,
        voided=voided,
    )
