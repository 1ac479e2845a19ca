"""The service layer: one async method per use case. Each opens one transaction, checks the
rules, writes the change with its history and change-log rows, commits, then publishes.
Both front doors (the Dojo REST shim and GraphQL) call these methods and nothing below them.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from server.actors import POS, Actor
from server.broker import Broker
from server.changes import CHANNEL, Change, ChangeKind
from server.clock import Clock
from server.errors import Conflict, NotFound
from server.history import HistoryEntry
from server.lifecycle import OrderStatus, check_dojo_cancel, check_move
from server.order import Order, OrderDraft
from server.paging import Key, Page, PageRequest, encode, scope_of
from server.payments import Event, Payment, PaymentSource, PaymentStatus
from server.queries import assembly, changes
from server.queries import orders as order_rows
from server.queries import payments as payment_rows
from server.store import Store

log = logging.getLogger("orderpass.orders")


@dataclass(frozen=True, slots=True)
class SearchFilters:
    table_id: str | None = None
    waiter_id: str | None = None
    party_id: str | None = None
    reservation_id: str | None = None
    payable_only: bool = False


class EventOutcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # same event id, or same intent and status, seen before
    STALE = "stale"  # older than the event that last set the payment's status
    UNCHANGED = "unchanged"
    UNMATCHED = "unmatched"  # no order holds this payment intent (yet)
    IGNORED = "ignored"  # an event type we do not handle


class Orders:
    def __init__(self, *, store: Store, broker: Broker, clock: Clock, auto_confirm: bool = False) -> None:
        self.store = store
        self.broker = broker
        self.clock = clock
        self.auto_confirm = auto_confirm

    # -- placing and reading --------------------------------------------------------------------

    async def place(self, draft: OrderDraft, *, by: Actor) -> Order:
        """Place an order; a retry of a Dojo order returns the order it already created."""
        fingerprint = _fingerprint(draft)
        now = self.clock.now()
        order_id = new_order_id()
        async with self.store.write() as tx:
            existing = await self._retried(tx, draft, fingerprint)
            if existing is not None:
                return existing
            payments = await self._payments_for(tx, draft)
            confirm = self.auto_confirm and by.is_dojo
            status = OrderStatus.CONFIRMED if confirm else OrderStatus.NEW
            if not await order_rows.insert_order(
                tx,
                order_id=order_id,
                draft=draft,
                status=status,
                payments=payments,
                fingerprint=fingerprint,
                now=now,
            ):  # another process placed it between our check and our insert: that one stands
                placed = await self._retried(tx, draft, fingerprint)
                if placed is None:
                    raise Conflict(f"dojoOrderId {draft.dojo_order_id} is being placed concurrently; retry")
                return placed
            history = [HistoryEntry(order_id, now, ChangeKind.CREATED, by, to_status=OrderStatus.NEW)]
            if confirm:
                history.append(_moved(order_id, now, POS, OrderStatus.NEW, OrderStatus.CONFIRMED))
            await changes.append_history(tx, history)
            sequence = await changes.append_change(tx, order_id, ChangeKind.CREATED, now=now)
        await self._publish(Change(sequence, order_id, ChangeKind.CREATED))
        return Order(order_id, draft.dojo_order_id, status, 1, draft.content(), tuple(payments), now, now)

    async def get(self, order_id: str) -> Order:
        async with self.store.read() as tx:
            return await _existing(tx, order_id)

    async def history(self, order_id: str) -> list[HistoryEntry]:
        async with self.store.read() as tx:
            await _existing_id(tx, order_id)
            return await changes.history_of(tx, order_id)

    async def search(
        self,
        filters: SearchFilters,
        *,
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Page[Order]:
        scope = scope_of(*dataclasses.astuple(filters))
        page = PageRequest.parse(limit=limit, after=after, before=before, scope=scope)
        async with self.store.read() as tx:
            ids, more = await order_rows.search_ids(
                tx,
                where=order_rows.filters(**dataclasses.asdict(filters)),
                after=page.after,
                before=page.before,
                limit=page.limit,
            )
            orders = await assembly.load_orders(tx, ids)
        if not orders:
            return Page(orders, None, None)
        first, last = (encode(Key(o.created_at, o.id), scope=scope) for o in (orders[0], orders[-1]))
        more_before = more if page.before else page.after is not None
        more_after = more if not page.before else True
        return Page(orders, first if more_before else None, last if more_after else None)

    # -- moving ---------------------------------------------------------------------------------

    async def cancel(self, order_id: str, *, by: Actor, reason: str | None = None) -> Order:
        """Cancel an order; cancelling a Canceled order again changes nothing and returns it."""
        async with self.store.write() as tx:
            order = await _existing(tx, order_id)
            if order.status is OrderStatus.CANCELED:
                return order
            if by.is_dojo:
                check_dojo_cancel(order.status)
            order, change = await self._move(tx, order, OrderStatus.CANCELED, by=by, reason=reason)
        await self._publish(change)
        return order

    async def move(
        self, order_id: str, to: OrderStatus, *, by: Actor, expected: OrderStatus | None = None
    ) -> Order:
        """Move an order as the lifecycle table allows. With `expected`, refuse (Conflict) if the
        order is no longer in the status the caller saw: two cooks bumping at once, one wins."""
        async with self.store.write() as tx:
            order = await _existing(tx, order_id)
            if order.status is to or (expected is not None and order.status is not expected):
                raise Conflict(f"order {order_id} is already {order.status.value}")
            order, change = await self._move(tx, order, to, by=by)
        await self._publish(change)
        return order

    async def _move(
        self, tx: AsyncSession, order: Order, to: OrderStatus, *, by: Actor, reason: str | None = None
    ) -> tuple[Order, Change]:
        check_move(order.status, to, paid_in_full=order.paid_in_full)
        now = self.clock.now()
        if not await order_rows.save_state(tx, order, status=to, now=now):
            raise Conflict(f"order {order.id} changed while it was being moved; read it again")
        kind = ChangeKind.CANCELED if to is OrderStatus.CANCELED else ChangeKind.STATUS_CHANGED
        detail = {"reason": reason} if reason else None
        await changes.append_history(
            tx, [_moved(order.id, now, by, order.status, to, kind=kind, detail=detail)]
        )
        sequence = await changes.append_change(tx, order.id, kind, now=now)
        moved = dataclasses.replace(order, status=to, version=order.version + 1, updated_at=now)
        return moved, Change(sequence, order.id, kind)

    # -- payments -------------------------------------------------------------------------------

    async def handle_event(self, event: Event, *, by: Actor) -> EventOutcome:
        """Apply one of Dojo's payment-intent events, at most once, never letting an older one win."""
        if not event.known:
            log.warning("acknowledged a Dojo event of unknown type %r (id %s)", event.event, event.id)
            return EventOutcome.IGNORED
        data = event.payment()
        now = self.clock.now()
        async with self.store.write() as tx:
            if not await payment_rows.record_event(tx, event, now=now):
                return EventOutcome.DUPLICATE
            owner = await payment_rows.payment_owner(tx, data.payment_intent_id)
            if owner is None:
                log.info("kept unmatched payment intent %s (%s)", data.payment_intent_id, data.payment_status)
                return EventOutcome.UNMATCHED
            order = await _existing(tx, owner)
            payment = next(p for p in order.payments if p.payment_intent_id == data.payment_intent_id)
            if payment.status_at is not None and event.created_at < payment.status_at:
                return EventOutcome.STALE
            await payment_rows.set_payment_status(
                tx, payment.payment_intent_id, data.payment_status, event.created_at
            )
            if payment.status is data.payment_status:
                return EventOutcome.UNCHANGED
            updated = dataclasses.replace(payment, status=data.payment_status, status_at=event.created_at)
            change = await self._payment_changed(tx, order, payment, updated, by=by, now=now)
        await self._publish(change)
        return EventOutcome.APPLIED

    async def _payment_changed(
        self, tx: AsyncSession, order: Order, old: Payment, new: Payment, *, by: Actor, now: datetime
    ) -> Change:
        payments = tuple(new if p is old else p for p in order.payments)
        paid = sum(p.paid_amount for p in payments if p.counts)
        if not await order_rows.save_state(tx, order, paid_amount=paid, now=now):
            raise Conflict(f"order {order.id} changed while its payment was being updated; retry")
        detail = {
            "paymentIntentId": new.payment_intent_id,
            "from": old.status.value if old.status else None,
            "to": new.status.value if new.status else None,
            "paidAmount": new.paid_amount,
            "tipsAmount": new.tips_amount,
        }
        entry = HistoryEntry(order.id, now, ChangeKind.PAYMENT_CHANGED, by, detail=detail)
        await changes.append_history(tx, [entry])
        sequence = await changes.append_change(tx, order.id, ChangeKind.PAYMENT_CHANGED, now=now)
        return Change(sequence, order.id, ChangeKind.PAYMENT_CHANGED)

    # -- helpers --------------------------------------------------------------------------------

    async def _retried(self, tx: AsyncSession, draft: OrderDraft, fingerprint: str) -> Order | None:
        if draft.dojo_order_id is None:
            return None
        found = await order_rows.find_fingerprint(tx, draft.dojo_order_id)
        if found is None:
            return None
        order_id, stored = found
        if stored != fingerprint:
            raise Conflict(
                f"dojoOrderId {draft.dojo_order_id} was already used for a different order ({order_id})"
            )
        return await _existing(tx, order_id)

    async def _payments_for(self, tx: AsyncSession, draft: OrderDraft) -> list[Payment]:
        """The draft's payments, with any status Dojo's events already told us about them."""
        intent_ids = [payment.payment_intent_id for payment in draft.payments]
        if not intent_ids:
            return []
        if len(set(intent_ids)) != len(intent_ids):
            raise Conflict("the same paymentIntentId appears twice in one order")
        owners = await payment_rows.owners_of(tx, intent_ids)
        if owners:
            intent, owner = next(iter(owners.items()))
            raise Conflict(f"payment intent {intent} already belongs to order {owner}")
        latest = await payment_rows.latest_events(tx, intent_ids)
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

    async def _publish(self, change: Change) -> None:
        await self.broker.publish(CHANNEL, change.to_json())


async def _existing(tx: AsyncSession, order_id: str) -> Order:
    order = await assembly.load_order(tx, order_id)
    if order is None:
        raise NotFound(f"no order {order_id}")
    return order


async def _existing_id(tx: AsyncSession, order_id: str) -> None:
    if not await order_rows.order_exists(tx, order_id):
        raise NotFound(f"no order {order_id}")


def _moved(
    order_id: str,
    now: datetime,
    by: Actor,
    source: OrderStatus,
    target: OrderStatus,
    *,
    kind: ChangeKind = ChangeKind.STATUS_CHANGED,
    detail: dict[str, str] | None = None,
) -> HistoryEntry:
    return HistoryEntry(order_id, now, kind, by, from_status=source, to_status=target, detail=detail)


def _fingerprint(draft: OrderDraft) -> str:
    return hashlib.sha256(draft.model_dump_json().encode()).hexdigest()


def new_order_id() -> str:
    """24 characters (what a Dojo terminal shows): `ord_` and 100 random bits in base 32."""
    return "ord_" + base64.b32encode(secrets.token_bytes(15)).decode()[:20].lower()
