"""Stations, their routing rules, and items done at a station, in and out of the tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.models import ITEMS, ORDERS, RULES, STATIONS
from server.records import select_all
from server.sql import insert_many
from server.stations.routing import Routing, Rule, RuleKind, Station

_STATIONS = select(STATIONS).order_by(STATIONS.c.position, STATIONS.c.id)
_RULES = select(RULES).order_by(RULES.c.station_id, RULES.c.position, RULES.c.id)


async def routing(tx: AsyncConnection) -> Routing:
    stations = tuple(
        Station(row.id, row.name, row.position, row.is_default, row.prep_minutes)
        for row in await select_all(tx, _STATIONS)
    )
    rules = tuple(
        Rule(row.station_id, RuleKind(row.kind), row.pattern, row.position)
        for row in await select_all(tx, _RULES)
    )
    return Routing(stations, rules)


async def replace_all(tx: AsyncConnection, routing: Routing, *, now: datetime) -> None:
    """The venue's stations and rules become exactly these (items keep the station they went to)."""
    await tx.execute(delete(RULES))
    keep = [station.id for station in routing.stations]
    await tx.execute(delete(STATIONS).where(STATIONS.c.id.not_in(keep)))
    for station in routing.stations:
        await save_station(tx, station, now=now)
    await insert_rules(tx, routing.rules)


async def save_station(tx: AsyncConnection, station: Station, *, now: datetime) -> None:
    values = {
        "name": station.name,
        "position": station.position,
        "is_default": station.is_default,
        "prep_minutes": station.prep_minutes,
    }
    updated = await tx.execute(update(STATIONS).where(STATIONS.c.id == station.id).values(**values))
    if updated.rowcount == 0:
        await insert_many(tx, STATIONS, [{"id": station.id, **values, "created_at": now}])


async def remove_station(tx: AsyncConnection, station_id: str) -> None:
    await tx.execute(delete(RULES).where(RULES.c.station_id == station_id))
    await tx.execute(delete(STATIONS).where(STATIONS.c.id == station_id))


async def replace_rules(tx: AsyncConnection, station_id: str, rules: Sequence[Rule]) -> None:
    await tx.execute(delete(RULES).where(RULES.c.station_id == station_id))
    await insert_rules(tx, rules)


async def insert_rules(tx: AsyncConnection, rules: Sequence[Rule]) -> None:
    rows = [
        {"station_id": r.station_id, "kind": r.kind.value, "pattern": r.pattern, "position": r.position}
        for r in rules
    ]
    await insert_many(tx, RULES, rows)


async def set_done(tx: AsyncConnection, order_id: str, lines: Sequence[int], *, at: datetime | None) -> None:
    """Items of an order bumped at their station (`at`), or brought back (None)."""
    where = (ITEMS.c.order_id == order_id) & ITEMS.c.line.in_(lines) & ITEMS.c.parent_line.is_(None)
    await tx.execute(update(ITEMS).where(where).values(done_at=at))


async def done_since(tx: AsyncConnection, since: datetime) -> list[tuple[str, datetime, datetime]]:
    """Every item a station bumped since then: its station, when it arrived there, when done."""
    query = select(ITEMS.c.station, ITEMS.c.routed_at, ITEMS.c.done_at).where(
        ITEMS.c.done_at >= since, ITEMS.c.parent_line.is_(None), ITEMS.c.routed_at.is_not(None)
    )
    return [(row.station, row.routed_at, row.done_at) for row in await tx.execute(query)]


async def done_recently(
    tx: AsyncConnection, station_id: str, *, since: datetime, statuses: Sequence[str]
) -> list[str]:
    """Orders in these statuses with an item this station bumped since then (the candidates for
    its recall list; whether all of its part is done is for the caller to judge)."""
    query = (
        select(ITEMS.c.order_id)
        .select_from(ITEMS.join(ORDERS, ORDERS.c.id == ITEMS.c.order_id))
        .where(ITEMS.c.station == station_id, ITEMS.c.done_at >= since, ORDERS.c.status.in_(statuses))
        .distinct()
    )
    return list((await tx.execute(query)).scalars())


async def waiting_by_station(tx: AsyncConnection, active: Sequence[str]) -> dict[str, int]:
    """Items still to make at each station, on orders in these (active) statuses."""
    query = (
        select(ITEMS.c.station, func.count())
        .select_from(ITEMS.join(ORDERS, ORDERS.c.id == ITEMS.c.order_id))
        .where(
            ITEMS.c.done_at.is_(None),
            ITEMS.c.voided_at.is_(None),  # taken off the order: nothing to make
            ITEMS.c.station.is_not(None),
            ORDERS.c.status.in_(active),
        )
        .group_by(ITEMS.c.station)
    )
    return {row[0]: int(row[1]) for row in await tx.execute(query)}


async def undone_on_active_orders(tx: AsyncConnection, station_id: str, active: Sequence[str]) -> int:
    """How many items still wait at this station on orders in these (active) statuses."""
    query = (
        select(func.count())
        .select_from(ITEMS.join(ORDERS, ORDERS.c.id == ITEMS.c.order_id))
        .where(
            ITEMS.c.station == station_id,
            ITEMS.c.done_at.is_(None),
            ITEMS.c.voided_at.is_(None),
            ORDERS.c.status.in_(active),
        )
    )
    return int((await tx.execute(query)).scalar_one())
