"""Areas, tables and their waiters, in and out of the tables. Nothing here commits."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Row, bindparam, delete, exists, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.floor.model import MAX_NAME, Area, FloorPlan, Place, Table
from server.models import AREA_WAITERS, AREAS, FLOOR_TABLES, TABLE_WAITERS
from server.paging import Key
from server.records import select_all
from server.sql import grouped, insert_many

T: Final = FLOOR_TABLES
_AREAS: Final = select(AREAS).order_by(AREAS.c.position, AREAS.c.id)


async def plan(tx: AsyncConnection) -> FloorPlan:
    areas = await _areas(tx, (await tx.execute(_AREAS)).all())
    tables = await _tables(tx, (await tx.execute(select(T).order_by(T.c.position, T.c.id))).all())
    return FloorPlan(tuple(areas), tuple(tables))


async def areas(tx: AsyncConnection) -> list[Area]:
    return await _areas(tx, (await tx.execute(_AREAS)).all())


async def tables(tx: AsyncConnection, ids: Collection[str]) -> list[Table]:
    return await _tables(tx, (await tx.execute(select(T).where(T.c.id.in_(list(ids))))).all())


async def has_tables(tx: AsyncConnection) -> bool:
    return (await tx.execute(select(T.c.id).limit(1))).first() is not None


# Built once: every ticket a screen fetches names its table (server/kds/board.py).
_PLACES: Final = (
    select(T.c.id, T.c.name, AREAS.c.name.label("area"))
    .select_from(T.join(AREAS, AREAS.c.id == T.c.area_id))
    .where(T.c.id.in_(bindparam("ids", expanding=True)))
)


async def places(tx: AsyncConnection, table_ids: Collection[str]) -> dict[str, Place]:
    found = await select_all(tx, _PLACES, {"ids": list(table_ids)})
    return {row.id: Place(row.name, row.area) for row in found}


async def search(
    tx: AsyncConnection,
    *,
    area_id: str | None,
    waiter_id: str | None,
    after: Key | None,
    before: Key | None,
    limit: int,
) -> tuple[list[tuple[Table, Key]], bool]:
    """One page of the tables that match, oldest first, each with its key; and whether more lie
    beyond it in the walk's direction."""
    key = tuple_(T.c.created_at, T.c.id)
    where: list[Any] = []
    if area_id is not None:
        where.append(T.c.area_id == area_id)
    if waiter_id is not None:
        served = (TABLE_WAITERS.c.table_id == T.c.id) & (TABLE_WAITERS.c.waiter_id == waiter_id)
        where.append(exists().where(served))
    if after is not None:
        where.append(key > tuple_(after.created_at, after.id))
    if before is not None:
        where.append(key < tuple_(before.created_at, before.id))
    order = [T.c.created_at.desc(), T.c.id.desc()] if before is not None else [T.c.created_at, T.c.id]
    found = list((await tx.execute(select(T).where(*where).order_by(*order).limit(limit + 1))).all())
    more, found = len(found) > limit, found[:limit]
    if before is not None:
        found.reverse()
    made = await _tables(tx, found)
    return [(table, Key(row.created_at, row.id)) for table, row in zip(made, found, strict=True)], more


# -- writing ------------------------------------------------------------------------------------


async def save_area(tx: AsyncConnection, area: Area, *, now: datetime) -> None:
    values = {"name": area.name, "position": area.position}
    updated = await tx.execute(update(AREAS).where(AREAS.c.id == area.id).values(**values))
    if updated.rowcount == 0:
        await insert_many(tx, AREAS, [{"id": area.id, **values, "created_at": now}])
    await tx.execute(delete(AREA_WAITERS).where(AREA_WAITERS.c.area_id == area.id))
    rows = [{"area_id": area.id, "waiter_id": w, "position": n} for n, w in enumerate(area.waiter_ids)]
    await insert_many(tx, AREA_WAITERS, rows)


async def save_table(tx: AsyncConnection, table: Table, *, now: datetime) -> None:
    """Add a table, or change one; its created_at, and so its place in a walk, never changes."""
    values = {
        "name": table.name,
        "area_id": table.area_id,
        "max_covers": table.max_covers,
        "position": table.position,
    }
    updated = await tx.execute(update(T).where(T.c.id == table.id).values(**values))
    if updated.rowcount == 0:
        await insert_many(tx, T, [{"id": table.id, **values, "created_at": now}])
    await tx.execute(delete(TABLE_WAITERS).where(TABLE_WAITERS.c.table_id == table.id))
    rows = [{"table_id": table.id, "waiter_id": w, "position": n} for n, w in enumerate(table.waiter_ids)]
    await insert_many(tx, TABLE_WAITERS, rows)


async def remove_area(tx: AsyncConnection, area_id: str) -> None:
    await tx.execute(delete(AREA_WAITERS).where(AREA_WAITERS.c.area_id == area_id))
    await tx.execute(delete(AREAS).where(AREAS.c.id == area_id))


async def remove_table(tx: AsyncConnection, table_id: str) -> None:
    await remove_tables(tx, T.c.id == table_id)


async def remove_tables(tx: AsyncConnection, where: Any) -> None:
    doomed = select(T.c.id).where(where)
    await tx.execute(delete(TABLE_WAITERS).where(TABLE_WAITERS.c.table_id.in_(doomed)))
    await tx.execute(delete(T).where(where))


async def tables_in(tx: AsyncConnection, area_id: str) -> int:
    return int((await tx.execute(select(func.count()).where(T.c.area_id == area_id))).scalar_one())


async def replace_all(tx: AsyncConnection, floor: FloorPlan, *, now: datetime) -> None:
    """The floor becomes exactly this one. Tables that stay keep their created_at (a walk under
    way goes on); names are unique within an area at every statement, so a table whose name or
    area changes steps aside first, and two tables may swap names in one load."""
    await remove_tables(tx, T.c.id.not_in([table.id for table in floor.tables]))
    for area in floor.areas:
        await save_area(tx, area, now=now)
    placed = await tx.execute(select(T.c.id, T.c.area_id, T.c.name))
    current = {row.id: (row.area_id, row.name) for row in placed}
    moving = [t for t in floor.tables if t.id in current and current[t.id] != (t.area_id, t.name)]
    for table in moving:
        await tx.execute(update(T).where(T.c.id == table.id).values(name=_aside(table.id)))
    for table in floor.tables:
        await save_table(tx, table, now=now)
    kept = [area.id for area in floor.areas]
    await tx.execute(delete(AREA_WAITERS).where(AREA_WAITERS.c.area_id.not_in(kept)))
    await tx.execute(delete(AREAS).where(AREAS.c.id.not_in(kept)))


def _aside(table_id: str) -> str:
    """A name no table can have (longer than any name may be), unique to this table."""
    return f"(moving {table_id})".ljust(MAX_NAME + 1, ".")


# -- reading ------------------------------------------------------------------------------------


async def _areas(tx: AsyncConnection, found: Sequence[Row[Any]]) -> list[Area]:
    ids = [row.id for row in found]
    query = select(AREA_WAITERS).where(AREA_WAITERS.c.area_id.in_(ids)).order_by(AREA_WAITERS.c.position)
    waiters = grouped((await tx.execute(query)).all(), key=lambda row: row.area_id)
    return [
        Area(row.id, row.name, tuple(w.waiter_id for w in waiters[row.id]), row.position) for row in found
    ]


async def _tables(tx: AsyncConnection, found: Sequence[Row[Any]]) -> list[Table]:
    ids = [row.id for row in found]
    query = select(TABLE_WAITERS).where(TABLE_WAITERS.c.table_id.in_(ids)).order_by(TABLE_WAITERS.c.position)
    waiters = grouped((await tx.execute(query)).all(), key=lambda row: row.table_id)
    return [
        Table(
            row.id,
            row.name,
            row.area_id,
            row.max_covers,
            tuple(w.waiter_id for w in waiters[row.id]),
            row.position,
        )
        for row in found
    ]
