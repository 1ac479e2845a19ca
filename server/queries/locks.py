"""Dojo's locks on orders."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncConnection

from server.models import LOCKS
from server.queries import dialect_insert


async def take(
    session: AsyncConnection, order_id: str, *, lock_id: str, expiry: datetime, now: datetime
) -> None:
    """Take, extend or replace the order's one lock."""
    statement = dialect_insert(session, LOCKS).values(
        order_id=order_id, lock_id=lock_id, expiry=expiry, locked_at=now
    )
    statement = statement.on_conflict_do_update(
        index_elements=[LOCKS.c.order_id], set_={"lock_id": lock_id, "expiry": expiry, "locked_at": now}
    )
    await session.execute(statement)


async def release(session: AsyncConnection, order_id: str) -> None:
    await session.execute(delete(LOCKS).where(LOCKS.c.order_id == order_id))
