"""The service layer for money: Dojo's payment events, payments recorded against an order,
and the payments no order holds yet."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from enum import StrEnum

from server.actors import Actor
from server.changes import ChangeKind
from server.errors import Conflict, InvalidRequest
from server.history import HistoryEntry
from server.lifecycle import TERMINAL
from server.money import Money
from server.order import Order
from server.payments import Event, Payment, PaymentSource, PaymentStatus, UnmatchedPayment
from server.queries import payments as payment_rows
from server.roles import Permission
from server.service import Service, existing

log = logging.getLogger("orderpass.cashier")


class EventOutcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # same event id, or same intent and status, seen before
    STALE = "stale"  # older than the event that last set the payment's status
    UNCHANGED = "unchanged"
    UNMATCHED = "unmatched"  # no order holds this payment intent (yet)
    IGNORED = "ignored"  # an event type we do not handle


class Cashier(Service):
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
            order = await existing(tx, owner)
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
        by: Actor,
    ) -> Order:
        """Record a payment (a split bill's share, say) against an open order; recording the same
        payment intent again with the same amounts changes nothing."""
        by.require(Permission.PAY)
        tips = tips_amount or Money.of(0, paid_amount.currency_code)
        now = self.clock.now()
        async with self.store.write() as tx:
            order = await existing(tx, order_id)
            _check_currency(order, paid_amount, tips)
            held = next((p for p in order.payments if p.payment_intent_id == payment_intent_id), None)
            if held is not None:
                if (held.paid_amount, held.tips_amount) != (paid_amount.value, tips.value):
                    raise Conflict(f"payment intent {payment_intent_id} was recorded with other amounts")
                return order
            owner = await payment_rows.payment_owner(tx, payment_intent_id)
            if owner is not None:
                raise Conflict(f"payment intent {payment_intent_id} already belongs to order {owner}")
            if order.status in TERMINAL:
                raise Conflict(f"order {order_id} is {order.status.value}; it takes no more payments")
            latest = (await payment_rows.latest_events(tx, [payment_intent_id])).get(payment_intent_id)
            payment = Payment(
                payment_intent_id=payment_intent_id,
                paid_amount=paid_amount.value,
                tips_amount=tips.value,
                source=PaymentSource.RECORDED,
                status=PaymentStatus(latest.payment_status) if latest else None,
                status_at=latest.created_at if latest else None,
            )
            await payment_rows.insert_payment(
                tx, order.id, position=len(order.payments), payment=payment, now=now
            )
            entry = _payment_entry(order, None, payment, by=by, now=now)
            order, change = await self._record(
                tx, order, ChangeKind.PAYMENT_CHANGED, [entry], now=now, payments=(*order.payments, payment)
            )
        await self._publish(change)
        return order

    async def unmatched(self, *, limit: int = 100) -> list[UnmatchedPayment]:
        async with self.store.read() as tx:
            return await payment_rows.unmatched(tx, limit=limit)


def _check_currency(order: Order, *amounts: Money) -> None:
    for money in amounts:
        if money.currency_code != order.currency:
            raise InvalidRequest(
                f"the order is in {order.currency}; a payment in {money.currency_code} cannot be recorded",
                field="paidAmount.currencyCode",
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
