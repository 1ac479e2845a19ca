"""Placing orders, many to a transaction: group commit for CreateOrder.

Writes are serialized anyway (SQLite's one writer; on PostgreSQL, the change-number lock), so
requests that arrive while a transaction is under way wait for the next one, and that next one
places all of them: one BEGIN, one statement per table, one COMMIT and one fsync for the lot.
Each request still gets exactly its own answer under exactly its own rules: a retry gets the
order it placed, a clash gets its Conflict, and one request's mistake never fails another's.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from opentelemetry.context import Context
from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from server import spans
from server.actors import POS, Actor
from server.changes.model import Change, ChangeKind, HistoryEntry
from server.changes.record import record
from server.errors import Conflict, OrderpassError, Unavailable
from server.lifecycle import AUTO_CONFIRMED, OrderStatus
from server.ordering.model import OPEN, Gate
from server.orders import rows as order_rows
from server.orders.model import Order, OrderContent, OrderDraft, content_json
from server.payments import rows as payment_rows
from server.payments.model import Payment, PaymentSource, PaymentStatus
from server.stations import rows as prep_rows
from server.stations.routing import Routing

if TYPE_CHECKING:
    from server.service import Service

Outcome = Order | OrderpassError
MAX_BATCH: Final = 32  # orders one transaction places at most
CLASHED: Final = "this order clashed with a concurrent one; retry"
log = logging.getLogger("orderpass.orders")


# A retry is told from a clash by a digest of the order as placed, stored with it. Orders placed
# since 2026-11-30 hold FINGERPRINT and a digest of the content's JSON as Dojo reads it (the
# answer's own, so it is written once for both: bench.profile put the digest of the whole draft
# at 7% of CreateOrder's event loop) and then the rest of the draft (Dojo's id, the payments).
# Orders placed before hold the digest of the whole draft's JSON, 64 hex digits, and a retry of
# one of those is compared that way (`Placement.placed_as`).
FINGERPRINT: Final = "2:"


@dataclass(frozen=True, slots=True)
class Placement:
    """One request to place an order."""

    draft: OrderDraft
    by: Actor
    client_key: str | None
    origin: Context | None = None  # the request's span, while tracing (server/spans.py)
    content: OrderContent = field(init=False)
    content_json: bytes = field(init=False)  # the content as Dojo reads it: the answer's, and the digest's
    fingerprint: str = field(init=False)

    def __post_init__(self) -> None:
        content = self.draft.content()
        written = content_json(content)
        rest = _beyond_content(type(self.draft))
        others = self.draft.__pydantic_serializer__.to_json(
            self.draft, include=rest, by_alias=True, exclude_defaults=True
        )
        digest = hashlib.sha256(written + b"\n" + others).hexdigest()
        object.__setattr__(self, "content", content)
        object.__setattr__(self, "content_json", written)
        object.__setattr__(self, "fingerprint", FINGERPRINT + digest)

    def placed_as(self, fingerprint: str | None) -> bool:
        """Whether the order stored with this fingerprint was this one."""
        if fingerprint is not None and not fingerprint.startswith(FINGERPRINT):  # an older build's
            draft = self.draft
            return fingerprint == hashlib.sha256(draft.__pydantic_serializer__.to_json(draft)).hexdigest()
        return fingerprint == self.fingerprint

    @property
    def key(self) -> tuple[str, str] | None:
        """What makes a retry a retry: Dojo's order id, or a staff client's idempotency key."""
        if self.draft.dojo_order_id:
            return ("dojo", self.draft.dojo_order_id)
        return ("client", self.client_key) if self.client_key else None


@cache
def _beyond_content(draft: type[OrderDraft]) -> set[str]:
    """A draft's fields that are not its content's (Dojo's order id, the payments); never changed."""
    return set(draft.model_fields) - set(OrderContent.model_fields)


@dataclass
class Batch:
    """What one transaction places, and what each placement gets back."""

    now: datetime
    outcomes: list[Outcome | None]
    routing: Routing  # the stations and rules as they stand: items go where they say
    gate: Gate  # which Dojo products' new orders are paused
    new: dict[int, order_rows.NewOrder] = field(default_factory=dict)  # by placement index
    history: list[HistoryEntry] = field(default_factory=list)
    retried: dict[int, str] = field(default_factory=dict)  # placement index -> order already placed


class GroupCommit:
    """Placements that arrive while a transaction is under way wait for the next one, which
    places all of them (at most MAX_BATCH); each caller gets exactly its own answer. `gate`
    says which Dojo products' new orders are paused (server/ordering/), once per batch, from
    memory: nothing paused costs CreateOrder nothing."""

    def __init__(
        self,
        service: Service,
        *,
        auto_confirm: bool,
        new_id: Callable[[], str],
        gate: Callable[[], Awaitable[Gate]] | None = None,
    ) -> None:
        self.service = service
        self.auto_confirm = auto_confirm
        self.new_id = new_id
        self.gate = gate
        self._waiting: list[tuple[Placement, asyncio.Future[Outcome]]] = []
        self._placer: asyncio.Task[None] | None = None

    async def place(self, placement: Placement) -> Order:
        answer: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting.append((placement, answer))
        if self._placer is None or self._placer.done():
            self._placer = asyncio.create_task(self._place_waiting())
        outcome = await answer
        if isinstance(outcome, OrderpassError):
            raise outcome
        return outcome

    async def _place_waiting(self) -> None:
        """Place whatever is waiting, a batch at a time, until nothing is."""
        service = self.service
        while self._waiting:
            await asyncio.sleep(0)  # let requests that already arrived join this batch
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            placements = [placement for placement, _ in batch]
            try:
                gate = await self.gate() if self.gate is not None else OPEN
                joined = spans.joined("orders.place_batch", [p.origin for p in placements])
                async with joined, service.store.write() as tx:
                    now = service.clock.now()
                    outcomes, last = await place_batch(
                        tx, placements, now=now, new_id=self.new_id, auto_confirm=self.auto_confirm,
                        dojo_due=service.dojo_due(now), gate=gate,
                    )  # fmt: skip
            except IntegrityError as exc:  # a payment intent taken elsewhere meanwhile: nothing kept
                log.warning("a batch of %d orders clashed with a concurrent write: %s", len(batch), exc.orig)
                _fail(batch, Unavailable(CLASHED))  # the driver's text names tables and SQL
                continue
            except Exception as exc:  # nothing of the batch was kept: every request hears why
                _fail(batch, exc)
                continue
            if last is not None:  # one wake-up for the batch: subscribers read every change after theirs
                await service._publish(last)
            for (_, answer), outcome in zip(batch, outcomes, strict=True):
                if not answer.done():
                    answer.set_result(outcome)


def _fail(batch: list[tuple[Placement, asyncio.Future[Outcome]]], exc: BaseException) -> None:
    for _, answer in batch:
        if not answer.done():
            answer.set_exception(exc)


async def place_batch(
    tx: AsyncConnection,
    placements: list[Placement],
    *,
    now: datetime,
    new_id: Callable[[], str],
    auto_confirm: bool,
    dojo_due: datetime | None,
    gate: Gate = OPEN,
) -> tuple[list[Outcome], Change | None]:
    """Place them all in this transaction: each one's outcome, and the last change written. A
    new order from a paused Dojo product is refused (`gate`); a retry of one placed before the
    pause still gets its order."""
    batch = Batch(now, [None] * len(placements), routing=await prep_rows.routing(tx), gate=gate)
    intents = [i.payment_intent_id for p in placements for i in p.draft.payments]
    await payment_rows.hold(tx, intents)  # another batch, payment or event of them waits for this one
    owners = await payment_rows.owners_of(tx, intents) if intents else {}
    latest = await payment_rows.latest_events(tx, intents) if intents else {}
    # What makes a retry a retry, read last: each PostgreSQL statement sees what was committed
    # before it began, and this one then sees at least what the reads above saw.
    known = await order_rows.find_placed_many(tx, [p.key for p in placements if p.key])
    for index, placement in enumerate(placements):
        try:
            _plan(batch, index, placement, known, owners, latest, new_id=new_id, auto_confirm=auto_confirm)
        except OrderpassError as exc:
            batch.outcomes[index] = exc
    last = await _write(tx, batch, placements, dojo_due=dojo_due)
    if batch.retried:
        found = {o.id: o for o in await order_rows.load_orders(tx, list(set(batch.retried.values())))}
        for index, order_id in batch.retried.items():
            batch.outcomes[index] = found.get(order_id) or Unavailable(
                "the order placed for this retry is gone; retry"
            )
    return [
        o if o is not None else Conflict("this order could not be placed; retry") for o in batch.outcomes
    ], last


def _plan(
    batch: Batch,
    index: int,
    placement: Placement,
    known: dict[tuple[str, str], tuple[str, str | None]],
    owners: dict[str, str],
    latest: Mapping[str, Row[Any]],
    *,
    new_id: Callable[[], str],
    auto_confirm: bool,
) -> None:
    """Decide what this placement becomes: a retry's existing order, a Conflict, a refusal
    while its product is paused, or a new order. A retry is judged first: an order placed
    before a pause is still the answer to its retry."""
    key = placement.key
    if key is not None and key in known:
        order_id, fingerprint = known[key]
        if not placement.placed_as(fingerprint):
            raise Conflict(f"{_describe(key)} was already used for a different order ({order_id})")
        batch.retried[index] = order_id
        return
    batch.gate.check(placement.by.requesting_product, now=batch.now)
    payments = _payments(placement.draft, owners, latest)
    order_id = new_id()
    confirm = auto_confirm and placement.by.is_dojo
    status = AUTO_CONFIRMED if confirm else OrderStatus.NEW
    prep = batch.routing.route_items(placement.draft.items, at=batch.now)
    product = placement.by.requesting_product
    new = order_rows.NewOrder(
        order_id,
        placement.draft,
        status,
        tuple(payments),
        placement.fingerprint,
        placement.client_key,
        prep,
        requesting_product=product,
    )
    batch.new[index] = new
    batch.history.append(
        HistoryEntry(order_id, batch.now, ChangeKind.CREATED, placement.by, to_status=OrderStatus.NEW)
    )
    if confirm:
        confirmed = HistoryEntry(
            order_id, batch.now, ChangeKind.STATUS_CHANGED, POS, from_status=OrderStatus.NEW, to_status=status
        )
        batch.history.append(confirmed)
    if key is not None:
        known[key] = (order_id, placement.fingerprint)  # a retry later in this batch gets this order
    owners.update({p.payment_intent_id: order_id for p in payments})
    content = placement.content
    placed = Order(
        order_id,
        placement.draft.dojo_order_id,
        status,
        1,
        content,
        tuple(payments),
        batch.now,
        batch.now,
        prep=prep,
        requesting_product=product,
        written=(content, placement.content_json),
    )
    batch.outcomes[index] = placed


def _payments(draft: OrderDraft, owners: dict[str, str], latest: Mapping[str, Row[Any]]) -> list[Payment]:
    """The draft's payments, with any status Dojo's events already told us about them."""
    intent_ids = [payment.payment_intent_id for payment in draft.payments]
    if len(set(intent_ids)) != len(intent_ids):
        raise Conflict("the same paymentIntentId appears twice in one order")
    for intent in intent_ids:
        if intent in owners:
            raise Conflict(f"payment intent {intent} already belongs to order {owners[intent]}")
    payments = []
    for given in draft.payments:
        event = latest.get(given.payment_intent_id)
        payments.append(
            Payment(
                payment_intent_id=given.payment_intent_id,
                paid_amount=given.paid_amount.value,
                tips_amount=given.tips_amount.value if given.tips_amount else 0,
                source=PaymentSource.ORDER,
                status=PaymentStatus(event.payment_status) if event else None,
                status_at=event.created_at if event else None,
            )
        )
    return payments


async def _write(
    tx: AsyncConnection, batch: Batch, placements: list[Placement], *, dojo_due: datetime | None
) -> Change | None:
    if not batch.new:
        return None
    inserted = await order_rows.insert_orders(tx, list(batch.new.values()), now=batch.now)
    if len(inserted) != len(batch.new):
        await _lost_races(tx, batch, placements, inserted)
    placed = [new for new in batch.new.values() if new.order_id in inserted]
    if not placed:
        return None
    entries = [entry for entry in batch.history if entry.order_id in inserted]
    created = [Change(0, new.order_id, ChangeKind.CREATED, None, new.status) for new in placed]
    asked = [placements[i].origin for i, new in batch.new.items() if new.order_id in inserted]
    traces = [spans.traceparent(origin) for origin in asked]  # each Dojo event joins its own request
    logged = await record(tx, created, entries, now=batch.now, dojo_due=dojo_due, traces=traces)
    return logged[-1]


async def _lost_races(
    tx: AsyncConnection, batch: Batch, placements: list[Placement], inserted: set[str]
) -> None:
    """Another process placed some of these between our check and our insert (its row is now
    visible): each loser becomes a retry of that order, or a Conflict if it was another order;
    so do the retries later in this batch that counted on the loser."""
    lost = {index: new for index, new in batch.new.items() if new.order_id not in inserted}
    known = await order_rows.find_placed_many(tx, [key for i in lost if (key := placements[i].key)])
    became: dict[str, Outcome | str] = {}  # a lost order id -> the order that stands instead, or why not
    for index, new in lost.items():
        key = placements[index].key
        found = known.get(key) if key else None
        if key is None or found is None:
            became[new.order_id] = Unavailable("this order clashed with one being placed elsewhere; retry")
        elif not placements[index].placed_as(found[1]):
            clash = f"{_describe(key)} was already used for a different order ({found[0]})"
            became[new.order_id] = Conflict(clash)
        else:
            became[new.order_id] = found[0]
    for index, order_id in [(i, new.order_id) for i, new in lost.items()] + list(batch.retried.items()):
        if order_id in became:
            batch.retried.pop(index, None)
            outcome = became[order_id]
            if isinstance(outcome, str):
                batch.retried[index] = outcome
            else:
                batch.outcomes[index] = outcome


def _describe(key: tuple[str, str]) -> str:
    kind, value = key
    return f"dojoOrderId {value}" if kind == "dojo" else f"client key {value}"
