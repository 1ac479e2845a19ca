"""Firing timed orders: when a timed order's fire time comes (server/schedule.py), nothing about
the order changes, yet every kitchen screen must show it. So each fire time becomes a change of
its own (`FIRED`, the status unchanged), written to the change log like any other.

Why a worker in the server, and not each screen setting a timer for the next fire time: a
change in the log reaches every subscriber, not just our own pages, in sequence order, exactly
once, on every process and host (they all read the same log); a screen that was asleep or
reconnecting at the fire time catches up by replaying from its cursor, as it does for
everything else; and the time is decided by the server's clock alone (a tablet's timer runs on
its own clock, and a test's `ManualClock` could not reach it). Every process runs the worker;
each fire time is claimed once in `order_fires`, so two processes never announce it twice, and
a process that was down announces what came due meanwhile as soon as it is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Unpack

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.actors import POS
from server.background import Worker
from server.changes.model import Change, ChangeKind, HistoryEntry
from server.changes.record import record
from server.clock import iso
from server.errors import Unavailable
from server.lifecycle import NOT_STARTED, OrderStatus
from server.models import FIRES, ITEMS, ORDERS
from server.orders.model import OrderType
from server.orders.search import timed_where
from server.schedule import PrepTimes, fire_times
from server.service import Parts, Service
from server.sql import grouped, insert_ignoring
from server.stations import rows as prep_rows

log = logging.getLogger("orderpass.firing")
EVERY: Final = 1.0  # seconds between looks: a fire time is announced within about this long


@dataclass(frozen=True, slots=True)
class Timed:
    """A timed order nobody has started: when it is due, and the stations its items went to."""

    order_id: str
    due: datetime
    stations: tuple[str, ...]


class Firing(Service, Worker):
    name = "orderpass-firing"

    def __init__(self, *, minutes: int, every: float = EVERY, **parts: Unpack[Parts]) -> None:
        super().__init__(**parts)
        self.minutes = minutes
        self.every = every

    async def run(self, ready: asyncio.Event) -> None:
        ready.set()
        while True:
            try:
                await self.fire_due()
            except Unavailable as exc:  # the next look tries again
                log.warning("could not fire timed orders: %s", exc.message)
            except Exception:  # a bug must not stop timed orders for good: log it, look again
                log.exception("firing timed orders failed")
            await asyncio.sleep(self.every)

    async def fire_due(self) -> list[Change]:
        """Announce every fire time that has come and nobody has announced; the changes written."""
        now = self.clock.now()
        async with self.store.read() as tx:
            prep = PrepTimes.of(await prep_rows.routing(tx), minutes=self.minutes)
            timed = await timed_waiting(tx, due_by=now + prep.longest)
            claimed = await fires_of(tx, [order.order_id for order in timed])
        due = sorted(
            {
                (order.order_id, at)
                for order in timed
                for at in fire_times(order.due, order.stations, prep).values()
                if at <= now and (order.order_id, at) not in claimed
            },
            key=lambda pair: (pair[1], pair[0]),
        )
        if not due:
            return []
        async with self.store.write() as tx:
            fired = await self._claim(tx, due, now=now)
        if fired:
            await self._publish(fired[-1])  # one wake-up: subscribers read every change after theirs
        return fired

    async def _claim(
        self, tx: AsyncConnection, due: Sequence[tuple[str, datetime]], *, now: datetime
    ) -> list[Change]:
        found: list[Change] = []
        entries: list[HistoryEntry] = []
        for order_id, at in due:
            status = await status_of(tx, order_id)
            if status in NOT_STARTED and await claim_fire(tx, order_id, at, now=now):
                entries.append(HistoryEntry(order_id, now, ChangeKind.FIRED, POS, detail={"fireAt": iso(at)}))
                found.append(Change(0, order_id, ChangeKind.FIRED, status, status))
        if not found:
            return []
        # Nothing about the order changed: Dojo is owed no OrderUpdated for it.
        return await record(tx, found, entries, now=now, dojo_due=None)


# -- statements ----------------------------------------------------------------------------------


async def timed_waiting(tx: AsyncConnection, *, due_by: datetime) -> list[Timed]:
    """Timed orders nobody has started that are due by then, each with its items' stations."""
    query = select(ORDERS.c.id, ORDERS.c.order_type, ORDERS.c.collect_at, ORDERS.c.ready_at).where(
        ORDERS.c.status.in_([s.value for s in NOT_STARTED]), timed_where(due_by=due_by)
    )
    heads = list(await tx.execute(query))
    if not heads:
        return []
    on = (
        ITEMS.c.order_id.in_([head.id for head in heads])
        & ITEMS.c.parent_line.is_(None)
        & ITEMS.c.voided_at.is_(None)
    )
    items = select(ITEMS.c.order_id, ITEMS.c.station).where(on, ITEMS.c.station.is_not(None)).distinct()
    stations = grouped(list(await tx.execute(items)))
    return [
        Timed(
            head.id,
            head.collect_at if head.order_type == OrderType.COLLECTION.value else head.ready_at,
            tuple(sorted(row.station for row in stations[head.id])),
        )
        for head in heads
    ]


async def fires_of(tx: AsyncConnection, order_ids: Sequence[str]) -> set[tuple[str, datetime]]:
    if not order_ids:
        return set()
    query = select(FIRES.c.order_id, FIRES.c.fire_at).where(FIRES.c.order_id.in_(order_ids))
    return {(row.order_id, row.fire_at) for row in await tx.execute(query)}


async def claim_fire(tx: AsyncConnection, order_id: str, at: datetime, *, now: datetime) -> bool:
    """Take this fire time for this process; False if another got there first."""
    row = {"order_id": order_id, "fire_at": at, "fired_at": now}
    statement = insert_ignoring(tx, FIRES).returning(FIRES.c.order_id)
    return (await tx.execute(statement, [row])).first() is not None


async def status_of(tx: AsyncConnection, order_id: str) -> OrderStatus:
    found = await tx.execute(select(ORDERS.c.status).where(ORDERS.c.id == order_id))
    return OrderStatus(found.scalar_one())
