"""The kitchen's view of orders, with no I/O: which statuses each screen of the pass shows, what a
ticket says, and the all-day counts. The KDS templates render these; the rules live here."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from server.errors import InvalidRequest
from server.lifecycle import ACTIVE, BUMP, RECALL, OrderStatus
from server.order import Order, OrderSubItem, OrderType
from server.payments import PaymentStatus

S = OrderStatus


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    title: str
    statuses: frozenset[OrderStatus]
    collection_only: bool = False

    def shows(self, order: Order) -> bool:
        if self.collection_only and order.content.details.order_type is not OrderType.COLLECTION:
            return False
        return order.status in self.statuses


STAGES: Final[Mapping[str, Stage]] = {
    "all": Stage("all", "All active", ACTIVE),
    "kitchen": Stage(
        "kitchen", "Kitchen", frozenset({S.NEW, S.SUBMITTED, S.CONFIRMED, S.ACCEPTED, S.PREPARING})
    ),
    "expo": Stage("expo", "Expo", frozenset({S.PREPARED, S.READY})),
    "ready": Stage("ready", "Ready to collect", frozenset({S.READY}), collection_only=True),
}

# Words that make a note stand out harder than a note already does.
ALLERGY_WORDS: Final = re.compile(
    r"\b(allerg\w*|nuts?|peanuts?|gluten|coeliac|celiac|dairy|lactose|milk|eggs?|soy[a]?|sesame|shellfish"
    r"|fish|mustard|celery|lupin|sulphites?|molluscs?|crustaceans?|vegan|halal|kosher)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Line:
    quantity: int
    name: str
    modifiers: tuple[str, ...]
    note: str | None
    allergy: bool
    sub_items: tuple[Line, ...] = ()


@dataclass(frozen=True, slots=True)
class Ticket:
    order_id: str
    status: OrderStatus
    title: str
    serves: str  # "Table 5", "Collect ASAP", "Collect 18:30"
    product: str | None  # the Dojo product it came from
    lines: tuple[Line, ...]
    note: str | None
    note_allergy: bool
    payment: str  # paid, authorised or unpaid
    created_at: datetime
    bump_to: OrderStatus | None
    recall_to: OrderStatus | None

    @property
    def created_ms(self) -> int:
        return int(self.created_at.timestamp() * 1000)

    @property
    def canceled(self) -> bool:
        return self.status is S.CANCELED


def ticket(order: Order, *, product: str | None, timezone: ZoneInfo) -> Ticket:
    content = order.content
    return Ticket(
        order_id=order.id,
        status=order.status,
        title=content.reference or content.display_name or order.id,
        serves=serves(order, timezone),
        product=product,
        lines=tuple(_line(item, item.sub_items) for item in content.items),
        note=content.note,
        note_allergy=is_allergy(content.note),
        payment=payment_badge(order),
        created_at=order.created_at,
        bump_to=BUMP.get(order.status),
        recall_to=RECALL.get(order.status),
    )


def serves(order: Order, timezone: ZoneInfo) -> str:
    details = order.content.details
    if details.order_type is OrderType.DINE_IN:
        table = details.dine_in.table_id if details.dine_in else None
        return f"Table {table}" if table else "Dine in"
    collection = details.collection
    if collection is None or collection.asap or collection.collect_at is None:
        return "Collect ASAP"
    return f"Collect {collection.collect_at.astimezone(timezone):%H:%M}"


def payment_badge(order: Order) -> str:
    if not order.paid_in_full:
        return "unpaid"
    authorised_only = any(p.status is PaymentStatus.AUTHORIZED for p in order.counted_payments)
    return "authorised" if authorised_only else "paid"


def is_allergy(text: str | None) -> bool:
    return bool(text and ALLERGY_WORDS.search(text))


def all_day(orders: Iterable[Order]) -> list[tuple[str, int]]:
    """How many of each item (and sub-item) the open tickets hold, most first."""
    counts: Counter[str] = Counter()
    for order in orders:
        for item in order.content.items:
            counts[item.name] += item.quantity
            for sub_item in item.sub_items:
                counts[sub_item.name] += sub_item.quantity * item.quantity
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))


def stage_of(name: str | None) -> Stage:
    found = STAGES.get(name or "all")
    if found is None:
        raise InvalidRequest(f"stage: no stage {name!r}; one of {', '.join(STAGES)}", field="stage")
    return found


def _line(item: OrderSubItem, sub_items: Iterable[OrderSubItem] = ()) -> Line:
    modifiers = tuple(f"{m.quantity}× {m.name}" if m.quantity > 1 else m.name for m in item.modifiers)  # noqa: RUF001
    return Line(
        quantity=item.quantity,
        name=item.name,
        modifiers=modifiers,
        note=item.note,
        allergy=is_allergy(item.note) or any(is_allergy(m) for m in modifiers),
        sub_items=tuple(_line(sub_item) for sub_item in sub_items),
    )
