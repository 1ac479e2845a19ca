"""The Dojo outbox: `OrderUpdated` events owed to Dojo, and their delivery state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.models import OUTBOX
from server.sql import dialect_insert

_PENDING = OUTBOX.c.delivered_at.is_(None)


@dataclass(frozen=True, slots=True)
class Owed:
    id: int
    order_id: str
    changes: int
    attempts: int
    traceparent: str | None = None  # the change's trace, while tracing: its delivery joins it


async def announce_many(
    tx: AsyncConnection,
    order_ids: list[str],
    *,
    now: datetime,
    due: datetime,
    traces: Sequence[str | None] | None = None,
) -> None:
    """Owe Dojo an event for each order: a new row, or one more change on the one still pending.
    `traces`: the traceparent of each order's change; the newest change's is the one delivered."""
    insert = dialect_insert(tx, OUTBOX)
    newest = func.coalesce(insert.excluded.traceparent, OUTBOX.c.traceparent)
    statement = insert.on_conflict_do_update(
        index_elements=[OUTBOX.c.order_id],
        index_where=_PENDING,
        set_={"changes": OUTBOX.c.changes + 1, "updated_at": now, "traceparent": newest},
    )
    traced = traces or [None] * len(order_ids)
    rows = [
        {
            "order_id": o,
            "changes": 1,
            "created_at": now,
            "updated_at": now,
            "next_attempt_at": due,
            "attempts": 0,
            "traceparent": trace,
        }
        for o, trace in zip(order_ids, traced, strict=True)
    ]
    await tx.execute(statement, rows)


async def claim(tx: AsyncConnection, *, now: datetime, until: datetime, limit: int) -> list[Owed]:
    """Due events nobody is delivering, claimed for this dispatcher until `until`."""
    free = or_(OUTBOX.c.claimed_until.is_(None), OUTBOX.c.claimed_until < now)
    query = (
        select(OUTBOX.c.id, OUTBOX.c.order_id, OUTBOX.c.changes, OUTBOX.c.attempts, OUTBOX.c.traceparent)
        .where(_PENDING, OUTBOX.c.next_attempt_at <= now, free)
        .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id)
        .limit(limit)
    )
    owed = [Owed(r.id, r.order_id, r.changes, r.attempts, r.traceparent) for r in await tx.execute(query)]
    if owed:
        ids = [o.id for o in owed]
        await tx.execute(update(OUTBOX).where(OUTBOX.c.id.in_(ids), free).values(claimed_until=until))
    return owed


async def delivered(tx: AsyncConnection, owed: Owed, *, now: datetime) -> bool:
    """Done, unless the order changed again while it was being delivered: then it stays owed."""
    done = await tx.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id == owed.id, OUTBOX.c.changes == owed.changes)
        .values(delivered_at=now, claimed_until=None, last_error=None)
    )
    if done.rowcount:
        return True
    await tx.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id == owed.id)
        .values(claimed_until=None, next_attempt_at=now, attempts=0)
    )
    return False


async def failed(tx: AsyncConnection, owed: Owed, *, error: str, retry_at: datetime) -> None:
    await tx.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id == owed.id)
        .values(
            attempts=OUTBOX.c.attempts + 1,
            last_error=error[:500],
            next_attempt_at=retry_at,
            claimed_until=None,
        )
    )


@dataclass(frozen=True, slots=True)
class Depth:
    owed: int
    oldest: datetime | None  # when the oldest undelivered change happened
    failing: int  # owed events that have failed at least once


async def depth(tx: AsyncConnection) -> Depth:
    query = select(func.count(), func.min(OUTBOX.c.created_at), func.count().filter(OUTBOX.c.attempts > 0))
    owed, oldest, failing = (await tx.execute(query.where(_PENDING))).one()
    return Depth(int(owed), oldest, int(failing))
