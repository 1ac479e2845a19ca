"""Finding orders: what a search asks for, and the statements that find, count and page them
(the paging rules and cursors are server/paging.py). Dojo's SearchOrders uses the dine-in
filters and payableOnly; GraphQL's `orders` all of them; a kitchen screen its stage."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, Select, bindparam, exists, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from server.lifecycle import ACTIVE, TERMINAL, OrderStatus
from server.models import ITEMS, ORDERS
from server.orders.filters import SearchFilters
from server.orders.model import OrderType
from server.paging import Key
from server.records import select_all


async def search_ids(
    tx: AsyncConnection, *, where: Sequence[Any], after: Key | None, before: Key | None, limit: int
) -> tuple[list[str], bool]:
    """Ids of one page, oldest first, and whether more lie beyond it in the walk's direction."""
    key = tuple_(ORDERS.c.created_at, ORDERS.c.id)
    conditions = list(where)
    if after is not None:
        conditions.append(key > tuple_(after.created_at, after.id))
    if before is not None:
        conditions.append(key < tuple_(before.created_at, before.id))
    columns = (ORDERS.c.created_at, ORDERS.c.id)
    order = [c.desc() for c in columns] if before is not None else list(columns)
    query = select(ORDERS.c.id).where(*conditions).order_by(*order).limit(limit + 1)
    ids = list((await tx.scalars(query)).all())
    more = len(ids) > limit
    ids = ids[:limit]
    return (ids[::-1] if before is not None else ids), more


def filters(search: SearchFilters) -> list[Any]:
    columns = {
        "table_id": search.table_id,
        "waiter_id": search.waiter_id,
        "party_id": search.party_id,
        "reservation_id": search.reservation_id,
    }
    where: list[Any] = [ORDERS.c[name] == value for name, value in columns.items() if value is not None]
    if search.payable_only:
        where.append(ORDERS.c.status.not_in([status.value for status in TERMINAL]))
        where.append(ORDERS.c.paid_amount < ORDERS.c.total_amount)
    if search.statuses:
        where.append(ORDERS.c.status.in_([status.value for status in search.statuses]))
    if search.order_type is not None:
        where.append(ORDERS.c.order_type == search.order_type.value)
    if search.created_after is not None:
        where.append(ORDERS.c.created_at >= search.created_after)
    if search.created_before is not None:
        where.append(ORDERS.c.created_at < search.created_before)
    if search.text:
        text = search.text.strip()
        where.append(
            or_(
                ORDERS.c.reference.icontains(text, autoescape=True),
                ORDERS.c.display_name.icontains(text, autoescape=True),
            )
        )
    return where


async def count(tx: AsyncConnection, where: Sequence[Any]) -> int:
    query = select(func.count()).select_from(ORDERS).where(*where)
    return int((await tx.execute(query)).scalar_one())


def open_where(
    statuses: Collection[OrderStatus], *, collection_only: bool = False, station: str | None = None
) -> list[Any]:
    """Open orders in these statuses; collection orders only; or those with an item still to make
    at a station (what a kitchen screen shows, so its limit counts only its own tickets)."""
    where: list[Any] = [ORDERS.c.status.in_([s.value for s in statuses if s in ACTIVE])]
    if collection_only:
        where.append(ORDERS.c.order_type == OrderType.COLLECTION.value)
    if station is not None:
        undone = (
            (ITEMS.c.order_id == ORDERS.c.id)
            & (ITEMS.c.station == station)
            & ITEMS.c.parent_line.is_(None)
            & ITEMS.c.voided_at.is_(None)
            & ITEMS.c.done_at.is_(None)
        )
        where.append(exists().where(undone))
    return where


@dataclass(frozen=True, slots=True)
class OnScreen:
    """A screen's first page of open orders and how many it holds in all, built once for each
    screen (its statuses, collection orders only, its station): a board or GraphQL's
    `activeOrders` asks both every time, and building them (and SQLAlchemy's cache keys of them)
    cost more than SQLite's running them; built once, they also go straight to sqlite3
    (server/records.py). The page's size is a parameter, `limit`."""

    where: tuple[Any, ...]  # its open orders (open_where), for a later page or a narrower search
    page: Select[Any]
    count: Select[Any]


@lru_cache(maxsize=256)  # a venue's screens: its stages and its stations
def on_screen(statuses: frozenset[OrderStatus], collection_only: bool, station: str | None) -> OnScreen:
    where = tuple(open_where(statuses, collection_only=collection_only, station=station))
    page = select(ORDERS.c.id).where(*where).order_by(ORDERS.c.created_at, ORDERS.c.id)
    return OnScreen(
        where,
        page.limit(bindparam("limit", type_=Integer)),
        select(func.count().label("n")).select_from(ORDERS).where(*where),
    )


async def first_on_screen(tx: AsyncConnection, screen: OnScreen, limit: int) -> tuple[list[str], int]:
    """The ids of the screen's first `limit` orders, oldest first, and how many it holds in all."""
    ids = [found.id for found in await select_all(tx, screen.page, {"limit": limit})]
    return ids, await count_on_screen(tx, screen)


async def count_on_screen(tx: AsyncConnection, screen: OnScreen) -> int:
    (counted,) = await select_all(tx, screen.count)
    return int(counted.n)


def at_tables(table_ids: Collection[str]) -> Any:
    """Orders for any of these tables (`dineIn.tableId`)."""
    return ORDERS.c.table_id.in_(list(table_ids))


def timed_where(*, due_by: datetime | None = None) -> Any:
    """Orders placed for a time (server/schedule.py): a collection with a `collectAt` that is not
    ASAP, or a pre-ordered table's `readyAt`; with `due_by`, only those due by then."""
    collection = (
        (ORDERS.c.order_type == OrderType.COLLECTION.value)
        & ORDERS.c.collect_at.is_not(None)
        & ORDERS.c.collect_asap.is_not(True)
    )
    pre_order = (ORDERS.c.order_type == OrderType.DINE_IN.value) & ORDERS.c.ready_at.is_not(None)
    if due_by is not None:
        collection &= ORDERS.c.collect_at <= due_by
        pre_order &= ORDERS.c.ready_at <= due_by
    return or_(collection, pre_order)


async def key_of(tx: AsyncConnection, order_id: str) -> Key | None:
    """Where an order stands in the oldest-first walk."""
    query = select(ORDERS.c.created_at, ORDERS.c.id).where(ORDERS.c.id == order_id)
    row = (await tx.execute(query)).first()
    return Key(row.created_at, row.id) if row else None


async def status_counts(tx: AsyncConnection, *, since: datetime | None) -> dict[OrderStatus, int]:
    query = select(ORDERS.c.status, func.count()).group_by(ORDERS.c.status)
    if since is not None:
        query = query.where(ORDERS.c.created_at >= since)
    return {OrderStatus(status): int(n) for status, n in await tx.execute(query)}
