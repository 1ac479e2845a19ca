"""The order history and the change log subscribers catch up from."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Row, insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.actors import Actor, ActorKind
from server.changes import ChangeKind
from server.history import HistoryEntry
from server.lifecycle import OrderStatus
from server.models import (
    CHANGES,
    HISTORY,
)
from server.queries import rows

# -- history and changes ------------------------------------------------------------------------


async def append_history(session: AsyncSession, entries: Sequence[HistoryEntry]) -> None:
    rows = [
        {
            "order_id": entry.order_id,
            "at": entry.at,
            "kind": entry.kind.value,
            "from_status": entry.from_status.value if entry.from_status else None,
            "to_status": entry.to_status.value if entry.to_status else None,
            "actor": entry.actor.label,
            "waiter_id": entry.actor.waiter_id,
            "requesting_product": entry.actor.requesting_product,
            "device_id": entry.actor.device_id,
            "device_type": entry.actor.device_type,
            "detail": orjson.dumps(entry.detail).decode() if entry.detail else None,
        }
        for entry in entries
    ]
    await session.execute(insert(HISTORY), rows)


async def append_change(session: AsyncSession, order_id: str, kind: ChangeKind, *, now: datetime) -> int:
    statement = (
        insert(CHANGES).values(order_id=order_id, kind=kind.value, at=now).returning(CHANGES.c.sequence)
    )
    return int((await session.execute(statement)).scalar_one())


async def history_of(session: AsyncSession, order_id: str) -> list[HistoryEntry]:
    found = await rows(session, HISTORY, HISTORY.c.order_id == order_id, HISTORY.c.id)
    return [_history_entry(row) for row in found]


def _history_entry(row: Row[Any]) -> HistoryEntry:
    kind, _, name = row.actor.partition(":")
    actor = Actor(
        ActorKind(kind), name or None, row.waiter_id, row.requesting_product, row.device_id, row.device_type
    )
    return HistoryEntry(
        order_id=row.order_id,
        at=row.at,
        kind=ChangeKind(row.kind),
        actor=actor,
        from_status=OrderStatus(row.from_status) if row.from_status else None,
        to_status=OrderStatus(row.to_status) if row.to_status else None,
        detail=orjson.loads(row.detail) if row.detail else None,
    )
