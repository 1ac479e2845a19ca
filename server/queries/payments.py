"""Payments and the payment-intent events Dojo delivers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import (
    PAYMENT_EVENTS,
    PAYMENTS,
)
from server.payments import Event, PaymentStatus
from server.queries import insert_ignoring

# -- payments and Dojo's events -----------------------------------------------------------------


async def owners_of(session: AsyncSession, intent_ids: Sequence[str]) -> dict[str, str]:
    """Which order already holds each of these payment intents."""
    query = select(PAYMENTS.c.payment_intent_id, PAYMENTS.c.order_id).where(
        PAYMENTS.c.payment_intent_id.in_(intent_ids)
    )
    return {row.payment_intent_id: row.order_id for row in await session.execute(query)}


async def latest_events(session: AsyncSession, intent_ids: Sequence[str]) -> dict[str, Row[Any]]:
    """The newest event (by Dojo's createdAt) already received for each of these intents."""
    query = (
        select(PAYMENT_EVENTS)
        .where(PAYMENT_EVENTS.c.payment_intent_id.in_(intent_ids))
        .order_by(PAYMENT_EVENTS.c.created_at)
    )
    return {row.payment_intent_id: row for row in await session.execute(query)}


async def record_event(session: AsyncSession, event: Event, *, now: datetime) -> bool:
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
    result = await session.execute(
        insert_ignoring(session, PAYMENT_EVENTS).returning(PAYMENT_EVENTS.c.id), [row]
    )
    return result.first() is not None


async def payment_owner(session: AsyncSession, intent_id: str) -> str | None:
    query = select(PAYMENTS.c.order_id).where(PAYMENTS.c.payment_intent_id == intent_id)
    return (await session.execute(query)).scalar_one_or_none()


async def set_payment_status(
    session: AsyncSession, intent_id: str, status: PaymentStatus, status_at: datetime
) -> None:
    statement = (
        update(PAYMENTS)
        .where(PAYMENTS.c.payment_intent_id == intent_id)
        .values(status=status.value, status_at=status_at)
    )
    await session.execute(statement)
