"""The service layer for money: Dojo's payment events, payments recorded against an order,
and the payments no order holds yet."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final, Unpack

from sqlalchemy.ext.asyncio import AsyncConnection

from server.actors import Actor
from server.changes.model import Change, ChangeKind, HistoryEntry
from server.clock import iso
from server.errors import Conflict, InvalidRequest
from server.lifecycle import TERMINAL
from server.money import MAX_VALUE, Money
from server.orders.model import Order
from server.orders.rows import to_change
from server.payments import rows as locks
from server.payments import rows as payment_rows
from server.payments.model import Event, Lock, Payment, PaymentSource, PaymentStatus, UnmatchedPayment, capped
from server.service import Parts, Service
from server.staff.roles import Permission
from server.text import shown

log = logging.getLogger("orderpass.cashier")
MAX_REASON: Final = 500  # characters: a sentence or two on the order's record


class EventOutcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # same event id, or same intent and status, seen before
    STALE = "stale"  # older than the event that last set the payment's status
    UNCHANGED = "unchanged"
    UNMATCHED = "unmatched"  # no order holds this payment intent (yet)
    IGNORED = "ignored"  # an event type we do not handle


class Cashier(Service):
    def __init__(
        self,
        *,
        longest_lock: timedelta = timedelta(minutes=10),  # Settings.dojo_lock_max_seconds, from create_app
        **parts: Unpack[Parts],
    ) -> None:
        super().__init__(**parts)
        self.longest_lock = longest_lock

    async def handle_event(self, event: Event, *, by: Actor) -> EventOutcome:
        """Apply one of Dojo's payment-intent events, at most once, never letting an older one win."""
        if not event.known:
            log.warning(
                "acknowledged a Dojo event of unknown type %s (id %s)", shown(event.event), shown(event.id)
            )
            return EventOutcome.IGNORED
        data = event.payment()
        now = self.clock.now()
        async with self.store.write() as tx:
            await payment_rows.hold(tx, [data.payment_intent_id])
            if not await payment_rows.record_event(tx, event, now=now):
                return EventOutcome.DUPLICATE
            owner = await payment_rows.payment_owner(tx, data.payment_intent_id)
            if owner is None:
                log.info(
                    "kept unmatched payment intent %s (%s)",
                    shown(data.payment_intent_id),
                    data.payment_status,
                )
                return EventOutcome.UNMATCHED
            order = await to_change(tx, owner)
            payment = next(p for p in order.payments if p.payment_intent_id == data.payment_intent_id)
            if payment.status_at is not None and event.created_at < payment.status_at:
                return EventOutcome.STALE
            await payment_rows.set_payment_status(
                tx, data.payment_intent_id, data.payment_status, event.created_at
            )
            if payment.status is data.payment_status:
                return EventOutcome.UNCHANGED
            updated = dataclasses.replace(payment, status=data.payment_status, status_at=event.created_at)
            payments = tuple(updated if p is payment else p for p in order.payments)
            entry = _payment_entry(order, payment, updated, by=by, now=now)
            _, change = await self._record(
                tx, order, ChangeKind.PAYMENT_CHANGED, [entry], now=now, payments=payments
            )
        await self._publish(change)
        return EventOutcome.APPLIED

    async def record_payment(
        self,
        order_id: str,
        *,
        payment_intent_id: str,
        paid_amount: Money,
        tips_amount: Money | None = None,
        lock_id: str | None = None,
        by: Actor,
    ) -> Order:
        """Record a payment (a split bill's share, say) against an open order; recording the same
        payment intent again with the same amounts changes nothing. Under Dojo's lock, only the
        payment made under that lock is taken."""
        by.require(Permission.PAY)
        tips = tips_amount or Money.of(0, paid_amount.currency_code)
        now = self.clock.now()
        async with self.store.write() as tx:
            await payment_rows.hold(tx, [payment_intent_id])
            order = await to_change(tx, order_id)
            order.check_currency([paid_amount, tips], field="paidAmount.currencyCode")
            _check_room(order, payment_intent_id, paid_amount, tips)
            lock = order.lock_at(now)
            if lock is not None and lock.lock_id != lock_id:
                raise Conflict(f"order {order_id} is locked for another payment ({lock.describe()})")
            held = next((p for p in order.payments if p.payment_intent_id == payment_intent_id), None)
            if held is not None:
                if (held.paid_amount, held.tips_amount) != (paid_amount.value, tips.value):
                    raise Conflict(f"payment intent {payment_intent_id} was recorded with other amounts")
                return order
            if order.status in TERMINAL:
                raise Conflict(f"order {order_id} is {order.status.value}; it takes no more payments")
            order, change = await self._take(
                tx,
                order,
                payment_intent_id,
                paid_amount.value,
                tips.value,
                PaymentSource.RECORDED,
                by=by,
                now=now,
            )
        await self._publish(change)
        return order

    async def attach_resolved(
        self, order_id: str, *, payment_intent_id: str, paid_amount: Money, tips_amount: Money, by: Actor
    ) -> Order:
        """Attach a payment Dojo told us of by event, once its payment intent names our order. It
        is a fact about money, so it is kept whatever the order's status."""
        now = self.clock.now()
        async with self.store.write() as tx:
            await payment_rows.hold(tx, [payment_intent_id])
            order = await to_change(tx, order_id)
            order.check_currency([paid_amount, tips_amount], field="paidAmount.currencyCode")
            _check_room(order, payment_intent_id, paid_amount, tips_amount)
            if any(p.payment_intent_id == payment_intent_id for p in order.payments):
                return order
            order, change = await self._take(
                tx,
                order,
                payment_intent_id,
                paid_amount.value,
                tips_amount.value,
                PaymentSource.RESOLVED,
                by=by,
                now=now,
            )
        await self._publish(change)
        return order

    async def _take(
        self,
        tx: AsyncConnection,
        order: Order,
        intent: str,
        paid: int,
        tips: int,
        source: PaymentSource,
        *,
        by: Actor,
        now: datetime,
    ) -> tuple[Order, Change]:
        """A new payment on the order, with whatever status Dojo's events already gave its intent."""
        owner = await payment_rows.payment_owner(tx, intent)
        if owner is not None:
            raise Conflict(f"payment intent {intent} already belongs to order {owner}")
        latest = (await payment_rows.latest_events(tx, [intent])).get(intent)
        payment = Payment(
            payment_intent_id=intent,
            paid_amount=paid,
            tips_amount=tips,
            source=source,
            status=PaymentStatus(latest.payment_status) if latest else None,
            status_at=latest.created_at if latest else None,
        )
        await payment_rows.insert_payment(
            tx, order.id, position=len(order.payments), payment=payment, now=now
        )
        entry = _payment_entry(order, None, payment, by=by, now=now)
        return await self._record(
            tx, order, ChangeKind.PAYMENT_CHANGED, [entry], now=now, payments=(*order.payments, payment)
        )

    async def lookups_due(self, *, limit: int = 20) -> list[str]:
        """Unmatched payment intents it is time to ask Dojo about."""
        async with self.store.read() as tx:
            return await payment_rows.lookups_due(tx, now=self.clock.now(), limit=limit)

    async def lookup_failed(
        self, payment_intent_id: str, *, error: str, retry_after: Callable[[int], timedelta]
    ) -> int:
        """Note a failed lookup and when to ask again (after `retry_after(attempts)`); the attempts."""
        async with self.store.write() as tx:
            await payment_rows.hold(tx, [payment_intent_id])  # two workers' failures both count
            state = (await payment_rows.lookup_state(tx, [payment_intent_id])).get(payment_intent_id)
            attempts = (state.attempts if state else 0) + 1
            retry_at = self.clock.now() + retry_after(attempts)
            await payment_rows.lookup_failed(
                tx, payment_intent_id, attempts=attempts, error=error, retry_at=retry_at
            )
        return attempts

    # -- Dojo's locks (Pay at Table) --------------------------------------------------------------

    async def lock(self, order_id: str, *, lock_id: str, expiry: datetime, by: Actor) -> Order:
        """Lock an open order for Dojo while a table pays; taking the same lock again renews it.
        The lock lives at most `longest_lock` from now, whatever expiry Dojo names: capped, not
        refused, since a refusal would only fail the table's payment (server/payments/model.py)."""
        by.require(Permission.PAY)
        now = self.clock.now()
        if expiry <= now:
            raise InvalidRequest("expiry: must be in the future", field="expiry")
        if expiry > (allowed := capped(expiry, now=now, longest=self.longest_lock)):
            log.info(
                "order %s: Dojo asked for a lock until %s; it holds until %s",
                order_id,
                iso(expiry),
                iso(allowed),
            )
            expiry = allowed
        async with self.store.write() as tx:
            order = await to_change(tx, order_id)
            held = order.lock_at(now)
            if held is not None and held.lock_id != lock_id:
                raise Conflict(f"order {order_id} is already locked ({held.describe()})")
            if order.status in TERMINAL:
                raise Conflict(f"order {order_id} is {order.status.value}; there is nothing to pay")
            await locks.take(tx, order_id, lock_id=lock_id, expiry=expiry, now=now)
        return dataclasses.replace(order, lock=Lock(lock_id, expiry))

    async def extend(self, order_id: str, *, lock_id: str, expiry: datetime, by: Actor) -> Order:
        """Move the lock's expiry; a lock that lapsed unclaimed is taken again."""
        return await self.lock(order_id, lock_id=lock_id, expiry=expiry, by=by)

    async def unlock(self, order_id: str, *, lock_id: str, by: Actor) -> Order:
        """Release Dojo's lock; releasing one that is already gone answers the order as it is."""
        by.require(Permission.PAY)
        now = self.clock.now()
        async with self.store.write() as tx:
            order = await to_change(tx, order_id)
            held = order.lock_at(now)
            if held is not None and held.lock_id != lock_id:
                raise Conflict(f"order {order_id} is locked by another lock ({held.describe()})")
            if order.lock is not None:
                await locks.release(tx, order_id)
        return dataclasses.replace(order, lock=None)

    async def release_lock(self, order_id: str, *, reason: str, by: Actor) -> Order:
        """An admin's override: remove Dojo's lock (the terminal died mid-payment, say), on the
        order's record with who did it and why, published and owed to Dojo like every change. A
        payment Dojo still records under that lock is taken, as one made without a lock is."""
        by.require(Permission.ADMIN)
        why = _reason(reason)
        now = self.clock.now()
        async with self.store.write() as tx:
            order = await to_change(tx, order_id)
            held = order.lock_at(now)
            if held is None:
                raise Conflict(f"order {order_id} holds no lock of Dojo's to release")
            await locks.release(tx, order_id)
            detail = {"lockId": held.lock_id, "expiry": iso(held.expiry), "reason": why}
            entry = HistoryEntry(order.id, now, ChangeKind.LOCK_OVERRIDDEN, by, detail=detail)
            order, change = await self._record(tx, order, ChangeKind.LOCK_OVERRIDDEN, [entry], now=now)
        await self._publish(change)
        log.warning("%s released Dojo's %s on order %s: %s", by.label, held.describe(), order_id, shown(why))
        return dataclasses.replace(order, lock=None)

    async def unmatched(self, *, limit: int = 100) -> list[UnmatchedPayment]:
        async with self.store.read() as tx:
            return await payment_rows.unmatched(tx, limit=limit)

    async def unmatched_count(self) -> int:
        async with self.store.read() as tx:
            return await payment_rows.unmatched_count(tx)


def _reason(reason: str) -> str:
    why = reason.strip()
    if not why:
        raise InvalidRequest(
            "reason: say why the lock is released; it goes on the order's record", field="reason"
        )
    if len(why) > MAX_REASON:
        raise InvalidRequest(f"reason: at most {MAX_REASON} characters", field="reason")
    return why


def _check_room(order: Order, payment_intent_id: str, paid: Money, tips: Money) -> None:
    """The order's paid and tips totals (in Dojo's Order) must stay amounts Money can hold."""
    if any(p.payment_intent_id == payment_intent_id for p in order.payments):
        return  # a replay or a correction of a payment already counted
    if max(order.paid_amount + paid.value, order.tips_amount + tips.value) > MAX_VALUE:
        raise InvalidRequest(
            f"this payment takes the order's payments past the largest amount, {MAX_VALUE}",
            field="paidAmount",
        )


def _payment_entry(
    order: Order, old: Payment | None, new: Payment, *, by: Actor, now: datetime
) -> HistoryEntry:
    detail = {
        "paymentIntentId": new.payment_intent_id,
        "from": old.status.value if old and old.status else None,
        "to": new.status.value if new.status else None,
        "paidAmount": new.paid_amount,
        "tipsAmount": new.tips_amount,
        "source": new.source.value,
    }
    return HistoryEntry(order.id, now, ChangeKind.PAYMENT_CHANGED, by, detail=detail)
