"""Payments, the payment-intent events Dojo delivers, and Dojo's locks on orders."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Row, bindparam, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.models import (
    INTENT_LOOKUPS,
    LOCKS,
    PAYMENT_EVENTS,
    PAYMENTS,
)
from server.payments.model import Event, Payment, PaymentSource, PaymentStatus, UnmatchedPayment
from server.records import select_all
from server.sql import dialect_insert, insert_ignoring, writers_overlap

# -- payments and Dojo's events -----------------------------------------------------------------


# A payment intent's own advisory lock on PostgreSQL: the two-int4 form, a keyspace apart from
# the change numbers' one-bigint lock (server/changes/rows.py); 'payi', then the intent's hash.
INTENT_LOCKS: Final = 0x70617969
_HOLD: Final = text(
    "SELECT pg_advisory_xact_lock(:space, key) FROM (SELECT DISTINCT hashtext(intent) AS key"
    " FROM unnest(CAST(:intents AS text[])) AS intent ORDER BY key) AS keys"
)


async def hold(tx: AsyncConnection, intent_ids: Sequence[str]) -> None:
    """Hold these payment intents to the commit, before reading anything about them. What Dojo
    says of an intent (its events) and what it is paid against (an order) arrive through
    different calls, each reading the other's table: on PostgreSQL, two such transactions at
    once each missed what the other wrote (a Canceled event kept as unmatched while the payment
    was recorded without it, and counted). Held first, the second reads what the first
    committed. In hash order, so two transactions holding several never wait on each other in a
    circle; taken before an order's row (`orders.rows.to_change`) and the change numbers, the
    order every writer keeps. SQLite's writers already take turns (BEGIN IMMEDIATE)."""
    if intent_ids and writers_overlap(tx):
        await tx.execute(_HOLD, {"space": INTENT_LOCKS, "intents": list(intent_ids)})


# Built once: CreateOrder asks both for every batch.
_OWNERS: Final = select(PAYMENTS.c.payment_intent_id, PAYMENTS.c.order_id).where(
    PAYMENTS.c.payment_intent_id.in_(bindparam("intents", expanding=True))
)
_LATEST: Final = (
    select(PAYMENT_EVENTS)
    .where(PAYMENT_EVENTS.c.payment_intent_id.in_(bindparam("intents", expanding=True)))
    .order_by(PAYMENT_EVENTS.c.created_at)
)


async def owners_of(tx: AsyncConnection, intent_ids: Sequence[str]) -> dict[str, str]:
    """Which order already holds each of these payment intents."""
    return {
        row.payment_intent_id: row.order_id for row in await select_all(tx, _OWNERS, {"intents": intent_ids})
    }


async def latest_events(tx: AsyncConnection, intent_ids: Sequence[str]) -> dict[str, Any]:
    """The newest event (by Dojo's createdAt) already received for each of these intents: its
    row, each column by name."""
    return {row.payment_intent_id: row for row in await select_all(tx, _LATEST, {"intents": intent_ids})}


async def record_event(tx: AsyncConnection, event: Event, *, now: datetime) -> bool:
    """Store a payment event once; False if its id, or its intent and status, was seen before."""
    data = event.payment()
    row = {
        "id": event.id,
        "account_id": event.account_id,
        "event_type": event.event,
        "payment_intent_id": data.payment_intent_id,
        "payment_status": data.payment_status.value,
        "capture_mode": data.capture_mode,
        "created_at": event.created_at,
        "received_at": now,
    }
    result = await tx.execute(insert_ignoring(tx, PAYMENT_EVENTS).returning(PAYMENT_EVENTS.c.id), [row])
    return result.first() is not None


async def payment_owner(tx: AsyncConnection, intent_id: str) -> str | None:
    query = select(PAYMENTS.c.order_id).where(PAYMENTS.c.payment_intent_id == intent_id)
    return (await tx.execute(query)).scalar_one_or_none()


async def set_payment_status(
    tx: AsyncConnection, intent_id: str, status: PaymentStatus, status_at: datetime
) -> None:
    statement = (
        update(PAYMENTS)
        .where(PAYMENTS.c.payment_intent_id == intent_id)
        .values(status=status.value, status_at=status_at)
    )
    await tx.execute(statement)


def payment_row(order_id: str, position: int, payment: Payment, now: datetime) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "position": position,
        "payment_intent_id": payment.payment_intent_id,
        "paid_amount": payment.paid_amount,
        "tips_amount": payment.tips_amount,
        "source": payment.source.value,
        "status": payment.status.value if payment.status else None,
        "status_at": payment.status_at,
        "created_at": now,
    }


def payment_of(row: Row[Any]) -> Payment:
    """A payment row as the payment it records (payment_row's other direction)."""
    return Payment(
        payment_intent_id=row.payment_intent_id,
        paid_amount=row.paid_amount,
        tips_amount=row.tips_amount,
        source=PaymentSource(row.source),
        status=PaymentStatus(row.status) if row.status else None,
        status_at=row.status_at,
    )


async def insert_payment(
    tx: AsyncConnection, order_id: str, *, position: int, payment: Payment, now: datetime
) -> None:
    await tx.execute(insert(PAYMENTS), [payment_row(order_id, position, payment, now)])


async def unmatched(tx: AsyncConnection, *, limit: int) -> list[UnmatchedPayment]:
    """Payment intents Dojo told us about that no order holds: each with its newest status."""
    held = select(PAYMENTS.c.payment_intent_id)
    query = (
        select(PAYMENT_EVENTS)
        .where(PAYMENT_EVENTS.c.payment_intent_id.not_in(held))
        .order_by(PAYMENT_EVENTS.c.payment_intent_id, PAYMENT_EVENTS.c.created_at)
    )
    found: dict[str, UnmatchedPayment] = {}
    for row in await tx.execute(query):
        first = found.get(row.payment_intent_id)
        found[row.payment_intent_id] = UnmatchedPayment(
            payment_intent_id=row.payment_intent_id,
            status=PaymentStatus(row.payment_status),
            status_at=row.created_at,
            first_seen_at=first.first_seen_at if first else row.received_at,
            events=(first.events if first else 0) + 1,
        )
    chosen = sorted(found.values(), key=lambda p: p.first_seen_at)[:limit]
    lookups = await lookup_state(tx, [p.payment_intent_id for p in chosen])
    return [_with_lookup(p, lookups.get(p.payment_intent_id)) for p in chosen]


async def unmatched_count(tx: AsyncConnection) -> int:
    """How many payment intents no order holds: one COUNT, for /metrics."""
    held = select(PAYMENTS.c.payment_intent_id)
    query = select(func.count(func.distinct(PAYMENT_EVENTS.c.payment_intent_id))).where(
        PAYMENT_EVENTS.c.payment_intent_id.not_in(held)
    )
    return int((await tx.execute(query)).scalar_one())


def _with_lookup(payment: UnmatchedPayment, lookup: Row[Any] | None) -> UnmatchedPayment:
    if lookup is None:
        return payment
    return dataclasses.replace(
        payment, lookups=lookup.attempts, last_error=lookup.last_error, next_lookup_at=lookup.next_attempt_at
    )


async def lookups_due(tx: AsyncConnection, *, now: datetime, limit: int) -> list[str]:
    """Unmatched payment intents it is time to ask Dojo about (never asked, or due again)."""
    held = select(PAYMENTS.c.payment_intent_id)
    waiting = select(INTENT_LOOKUPS.c.payment_intent_id).where(INTENT_LOOKUPS.c.next_attempt_at > now)
    query = (
        select(PAYMENT_EVENTS.c.payment_intent_id)
        .where(
            PAYMENT_EVENTS.c.payment_intent_id.not_in(held),
            PAYMENT_EVENTS.c.payment_intent_id.not_in(waiting),
        )
        .group_by(PAYMENT_EVENTS.c.payment_intent_id)
        .order_by(func.min(PAYMENT_EVENTS.c.received_at))
        .limit(limit)
    )
    return list((await tx.scalars(query)).all())


async def lookup_failed(
    tx: AsyncConnection, intent_id: str, *, attempts: int, error: str, retry_at: datetime
) -> None:
    values = {"attempts": attempts, "next_attempt_at": retry_at, "last_error": error[:500]}
    statement = dialect_insert(tx, INTENT_LOOKUPS).values(payment_intent_id=intent_id, **values)
    statement = statement.on_conflict_do_update(
        index_elements=[INTENT_LOOKUPS.c.payment_intent_id], set_=values
    )
    await tx.execute(statement)


async def lookup_state(tx: AsyncConnection, intent_ids: Sequence[str]) -> dict[str, Row[Any]]:
    query = select(INTENT_LOOKUPS).where(INTENT_LOOKUPS.c.payment_intent_id.in_(intent_ids))
    return {row.payment_intent_id: row for row in await tx.execute(query)}


async def take(tx: AsyncConnection, order_id: str, *, lock_id: str, expiry: datetime, now: datetime) -> None:
    """Take, extend or replace the order's one lock."""
    statement = dialect_insert(tx, LOCKS).values(
        order_id=order_id, lock_id=lock_id, expiry=expiry, locked_at=now
    )
    statement = statement.on_conflict_do_update(
        index_elements=[LOCKS.c.order_id], set_={"lock_id": lock_id, "expiry": expiry, "locked_at": now}
    )
    await tx.execute(statement)


async def release(tx: AsyncConnection, order_id: str) -> None:
    await tx.execute(delete(LOCKS).where(LOCKS.c.order_id == order_id))
