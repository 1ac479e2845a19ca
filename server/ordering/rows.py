"""The pauses and their audit history, in and out of `ordering_pauses` and `ordering_changes`.
Nothing here commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Row, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.actors import Actor, ActorKind
from server.models import ORDERING_CHANGES, ORDERING_PAUSES
from server.ordering.model import DojoProduct, OrderingChange, OrderingChangeKind, Pause, Pauses
from server.sql import dialect_insert, insert_many


async def pauses(tx: AsyncConnection) -> Pauses:
    query = select(ORDERING_PAUSES).order_by(ORDERING_PAUSES.c.product)
    return Pauses(tuple(_pause(row) for row in await tx.execute(query)))


async def pause(
    tx: AsyncConnection, products: Sequence[DojoProduct], *, until: datetime | None, now: datetime, by: Actor
) -> None:
    """Pause these products until then; a product paused already takes the new pause."""
    rows = [{"product": p.value, "until": until, "paused_at": now, "actor": by.label} for p in products]
    statement = dialect_insert(tx, ORDERING_PAUSES)
    updated = {name: statement.excluded[name] for name in ("until", "paused_at", "actor")}
    await tx.execute(statement.on_conflict_do_update(index_elements=["product"], set_=updated), rows)


async def resume(tx: AsyncConnection, products: Sequence[DojoProduct] | None) -> list[Pause]:
    """End the pauses of these products (every pause, if None); those that there were."""
    statement = delete(ORDERING_PAUSES)
    if products is not None:
        statement = statement.where(ORDERING_PAUSES.c.product.in_([p.value for p in products]))
    return [_pause(row) for row in await tx.execute(statement.returning(*ORDERING_PAUSES.c))]


async def end_due(tx: AsyncConnection, now: datetime) -> list[Pause]:
    """End the pauses whose time is up; those this transaction ended. Of two processes doing it
    at once, only one gets each row back (the other's DELETE finds it gone), so each automatic
    resume is recorded once."""
    due = ORDERING_PAUSES.c.until.is_not(None) & (ORDERING_PAUSES.c.until <= now)
    statement = delete(ORDERING_PAUSES).where(due).returning(*ORDERING_PAUSES.c)
    return [_pause(row) for row in await tx.execute(statement)]


async def append_changes(tx: AsyncConnection, changes: Sequence[OrderingChange]) -> None:
    rows = [
        {
            "at": change.at,
            "kind": change.kind.value,
            "actor": change.by.label,
            "products": orjson.dumps([p.value for p in change.products]).decode(),
            "until": change.until,
        }
        for change in changes
    ]
    await insert_many(tx, ORDERING_CHANGES, rows)


async def history(tx: AsyncConnection, *, limit: int) -> list[OrderingChange]:
    """The newest changes first."""
    query = select(ORDERING_CHANGES).order_by(ORDERING_CHANGES.c.id.desc()).limit(limit)
    return [
        OrderingChange(
            row.at,
            OrderingChangeKind(row.kind),
            _actor(row.actor),
            tuple(DojoProduct(value) for value in orjson.loads(row.products)),
            row.until,
        )
        for row in await tx.execute(query)
    ]


def _pause(row: Row[Any]) -> Pause:
    return Pause(DojoProduct(row.product), row.until, row.paused_at, _actor(row.actor))


def _actor(label: str) -> Actor:
    kind, _, name = label.partition(":")
    return Actor(ActorKind(kind), name or None)
