"""The service layer for pausing Dojo's ordering: a kitchen lead pauses new orders from Order &
Pay or QR for a while (or until resumed) and resumes them; CreateOrder asks `gate()` whether an
order's product is paused; every pause, resume and automatic resume goes in the audit history.

The pauses live in the store (so they survive restarts, and every process on PostgreSQL shares
them); each process keeps a copy (server/copies.py, announced on `CHANNEL`), so CreateOrder's hot
path reads nothing per order. The worker looks every `every` seconds: it keeps the copy fresh,
tells this process's subscribers when the pauses changed, and records each pause whose time is up
as AUTO_RESUMED, once however many processes try (rows.end_due).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

from server.actors import POS, Actor
from server.background import Worker
from server.broker import Broker
from server.clock import Clock
from server.copies import FRESH_FOR, Copy
from server.errors import InvalidRequest, Unavailable
from server.ordering import rows
from server.ordering.model import (
    DojoProduct,
    Gate,
    OrderingChange,
    OrderingChangeKind,
    Pauses,
    auto_resumed,
    chosen,
)
from server.staff.roles import Permission
from server.store import Store

log = logging.getLogger("orderpass.ordering")
CHANNEL: Final = "orderpass.ordering"
EVERY: Final = 1.0  # seconds between the worker's looks: a pause ends in the history within about this
MAX_HISTORY: Final = 100


class Ordering(Worker):
    name = "orderpass-ordering"

    def __init__(
        self,
        *,
        store: Store,
        broker: Broker,
        clock: Clock,
        timezone: str,
        minutes: Sequence[int],
        every: float = EVERY,
        fresh_for: float = FRESH_FOR,
    ) -> None:
        self.store = store
        self.broker = broker
        self.clock = clock
        self.zone = ZoneInfo(timezone)
        self.minutes = tuple(minutes)  # the lengths of pause offered
        self.every = every
        self._copy = Copy(self._read, broker=broker, channel=CHANNEL, fresh_for=fresh_for)

    # -- the use cases ------------------------------------------------------------------------

    async def pause(self, products: Sequence[DojoProduct], minutes: int | None, *, by: Actor) -> Pauses:
        """Pause new orders from these products for `minutes` (one the venue offers), or until
        resumed if None; a product paused already takes the new pause. The pauses now."""
        by.require(Permission.PAUSE)
        paused = chosen(products, minutes, offered=self.minutes)
        now = self.clock.now()
        until = now + timedelta(minutes=minutes) if minutes is not None else None
        async with self.store.write() as tx:
            await self._end_due(tx)
            await rows.pause(tx, paused, until=until, now=now, by=by)
            await rows.append_changes(tx, [OrderingChange(now, OrderingChangeKind.PAUSED, by, paused, until)])
            found = await rows.pauses(tx)
        await self._changed(found)
        return found

    async def resume(self, products: Sequence[DojoProduct] | None = None, *, by: Actor) -> Pauses:
        """Resume these products' orders (every paused product's, if None); resuming what is not
        paused changes nothing and records nothing. The pauses now."""
        by.require(Permission.PAUSE)
        async with self.store.write() as tx:
            await self._end_due(tx)
            ended = await rows.resume(tx, products)
            if ended:
                resumed = tuple(p for p in DojoProduct if p in {pause.product for pause in ended})
                change = OrderingChange(self.clock.now(), OrderingChangeKind.RESUMED, by, resumed)
                await rows.append_changes(tx, [change])
            found = await rows.pauses(tx)
        await self._changed(found)
        return found

    async def current(self) -> Pauses:
        """The pauses as the store holds them now (one may have run out: `in_force` says)."""
        return (await self._copy.current()).pauses

    async def _read(self) -> Gate:
        async with self.store.read() as tx:
            return Gate(await rows.pauses(tx), self.zone)

    async def history(self, *, limit: int = 50) -> list[OrderingChange]:
        """The audit history, newest first: `limit` lines, at most MAX_HISTORY."""
        if not 1 <= limit <= MAX_HISTORY:
            raise InvalidRequest(f"first: must be between 1 and {MAX_HISTORY}", field="first")
        async with self.store.read() as tx:
            return await rows.history(tx, limit=limit)

    async def end_due(self) -> list[OrderingChange]:
        """Record every pause whose time is up as resumed (AUTO_RESUMED); what this call recorded."""
        async with self.store.write() as tx:
            ended = await self._end_due(tx)
            found = await rows.pauses(tx)
        if ended:
            await self._changed(found)
        return ended

    async def _end_due(self, tx: AsyncConnection) -> list[OrderingChange]:
        """Within a write: first, so the history reads in the order things happened."""
        changes = auto_resumed(await rows.end_due(tx, self.clock.now()), by=POS)
        await rows.append_changes(tx, changes)
        return changes

    # -- the copy CreateOrder asks ---------------------------------------------------------------

    async def gate(self) -> Gate:
        """The pauses as this process last read them (again, if that was too long ago)."""
        return await self._copy.get()

    async def snapshot(self) -> Pauses:
        return (await self.gate()).pauses

    async def _changed(self, found: Pauses) -> None:
        """After a commit: this process's copy at once, then every other process's."""
        await self._copy.changed(Gate(found, self.zone))

    # -- live --------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[AsyncIterator[Pauses]]:
        """The pauses now (read from the store, so a screen that reconnects is right at once),
        then again each time they change, in any process."""
        async with self._copy.watching() as gates:
            yield (gate.pauses async for gate in gates)

    async def run(self, ready: asyncio.Event) -> None:
        await self._copy.listen(ready, every=self.every, look=self._look)

    async def _look(self) -> None:
        try:
            if (await self.snapshot()).due(self.clock.now()):
                await self.end_due()
        except Unavailable as exc:  # the next look tries again
            log.warning("could not look at ordering's pauses: %s", exc.message)
        except Exception:  # a bug must not stop pauses from ending: log it, look again
            log.exception("looking at ordering's pauses failed")
