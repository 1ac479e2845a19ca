"""The order history and the change log subscribers catch up from."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import orjson
from sqlalchemy import Row, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from server.actors import Actor, ActorKind
from server.changes.model import Change, ChangeKind, HistoryEntry
from server.lifecycle import OrderStatus
from server.models import (
    CHANGES,
    HISTORY,
)
from server.records import select_all
from server.sql import insert_many, insert_returning, writers_overlap

SEQUENCE_LOCK = 0x6F72646572706173  # 'orderpas': this app's advisory lock for change numbers

# -- history and changes ------------------------------------------------------------------------


async def append_history(tx: AsyncConnection, entries: Sequence[HistoryEntry]) -> None:
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
    await insert_many(tx, HISTORY, rows)


async def append_change(
    tx: AsyncConnection,
    order_id: str,
    kind: ChangeKind,
    *,
    from_status: OrderStatus | None,
    to_status: OrderStatus,
    now: datetime,
) -> int:
    (sequence,) = await append_changes(tx, [(order_id, kind, from_status, to_status)], now=now)
    return sequence


async def append_changes(
    tx: AsyncConnection,
    found: Sequence[tuple[str, ChangeKind, OrderStatus | None, OrderStatus]],
    *,
    now: datetime,
) -> list[int]:
    """Log changes, last thing before commit; their sequence numbers, in the order given."""
    if writers_overlap(tx):
        # Numbers must become visible in order: a reader that has seen N must never later find
        # a committed change below N. Taking this lock last, just before the numbers, and holding
        # it to commit makes transactions take and publish their numbers one after another.
        await tx.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEQUENCE_LOCK})
    rows = [
        {
            "order_id": order_id,
            "kind": kind.value,
            "from_status": from_status.value if from_status else None,
            "to_status": to_status.value,
            "at": now,
        }
        for order_id, kind, from_status, to_status in found
    ]
    # One change per order in a batch, so the order id says which number is whose (asking the
    # database to keep the parameters' order would cost a statement per row on SQLite).
    written = await insert_returning(tx, CHANGES, rows, ("order_id", "sequence"))
    numbers = {order_id: int(sequence) for order_id, sequence in written}
    return [numbers[order_id] for order_id, *_ in found]


async def changes_after(tx: AsyncConnection, sequence: int, *, limit: int) -> list[Change]:
    query = select(CHANGES).where(CHANGES.c.sequence > sequence).order_by(CHANGES.c.sequence).limit(limit)
    return [
        Change(
            row.sequence,
            row.order_id,
            ChangeKind(row.kind),
            OrderStatus(row.from_status) if row.from_status else None,
            OrderStatus(row.to_status),
        )
        for row in await tx.execute(query)
    ]


async def last_sequence(tx: AsyncConnection) -> int:
    """The newest change's number (0 before any): asked by every board a screen loads, every
    subscription that starts and GraphQL's `lastSequence`; built once, run straight where it can."""
    (found,) = await select_all(tx, _LAST)
    return int(found.last)


_LAST: Final = select(func.coalesce(func.max(CHANGES.c.sequence), 0).label("last"))


async def histories(tx: AsyncConnection, order_ids: Sequence[str]) -> dict[str, list[HistoryEntry]]:
    """The histories of many orders in one statement."""
    found: dict[str, list[HistoryEntry]] = {order_id: [] for order_id in order_ids}
    query = (
        select(HISTORY).where(HISTORY.c.order_id.in_(order_ids)).order_by(HISTORY.c.order_id, HISTORY.c.id)
    )
    for row in await tx.execute(query):
        found[row.order_id].append(_history_entry(row))
    return found


async def history_since(tx: AsyncConnection, since: datetime) -> list[HistoryEntry]:
    query = select(HISTORY).where(HISTORY.c.at >= since).order_by(HISTORY.c.order_id, HISTORY.c.id)
    return [_history_entry(row) for row in await tx.execute(query)]


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


async def recent_moves(tx: AsyncConnection, *, since: datetime, limit: int) -> list[HistoryEntry]:
    """Status moves since a moment, newest first."""
    query = (
        select(HISTORY)
        .where(HISTORY.c.kind == ChangeKind.STATUS_CHANGED.value, HISTORY.c.at >= since)
        .order_by(HISTORY.c.id.desc())
        .limit(limit)
    )
    return [_history_entry(row) for row in await tx.execute(query)]
