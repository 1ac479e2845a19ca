"""The one WebSocket to Dojo per venue, as the store knows it: which process holds it, and how it
is doing.

However many workers or hosts serve one venue, exactly one process may hold the socket: the one
holding the lease, a row it renews every `RENEW` seconds and that lapses `TTL` seconds after the
last renewal. A process killed outright stops renewing, and another takes the lease over within
TTL + RENEW seconds. The holder also writes the socket's state there, so every process, GraphQL's
`dojoConnection` and `orderpass dojo status` read the same answer.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import timedelta
from typing import Any, Final

from sqlalchemy import select, update

from server.clock import Clock
from server.dojo.connection import LinkState, LinkStatus
from server.models import DOJO_SOCKET
from server.sql import insert_ignoring
from server.store import Store

NAME: Final = "dojo"
TTL: Final = timedelta(seconds=6)
RENEW: Final = 2.0  # seconds between renewals (and between attempts by processes standing by)


class Link:
    """The lease and the status row; `me` names this process."""

    def __init__(self, *, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.me = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"

    async def hold(self) -> bool:
        """Take the lease if it is free or lapsed, or renew it if ours: whether we hold it now."""
        now = self.clock.now()
        columns = DOJO_SOCKET.c
        async with self.store.write() as tx:
            row = {"name": NAME, "state": LinkState.OFF.value, "calls_served": 0}
            await tx.execute(insert_ignoring(tx, DOJO_SOCKET), [row])
            free = (columns.holder == self.me) | columns.holder.is_(None) | (columns.expires_at < now)
            lease = update(DOJO_SOCKET).where(columns.name == NAME, free)
            taken = await tx.execute(lease.values(holder=self.me, expires_at=now + TTL))
            return bool(taken.rowcount)

    async def release(self) -> None:
        """Let the lease go at once (a clean shutdown), so another process need not wait it out."""
        await self._update(holder=None, expires_at=None, state=LinkState.OFF.value, connected_since=None)

    async def report(self, state: LinkState, *, error: str | None = None) -> None:
        """The holder's word on its socket (and on what went wrong last, if anything did)."""
        now = self.clock.now()
        values: dict[str, Any] = {"state": state.value, "updated_at": now}
        values["connected_since"] = now if state is LinkState.CONNECTED else None
        if error is not None:
            values["last_error"] = error
        await self._update(**values)

    async def served(self, calls: int) -> None:
        """Count calls answered over the socket (the holder adds them up now and then)."""
        if calls:
            await self._update(calls_served=DOJO_SOCKET.c.calls_served + calls)

    async def status(self) -> LinkStatus:
        async with self.store.read() as tx:
            row = (await tx.execute(select(DOJO_SOCKET).where(DOJO_SOCKET.c.name == NAME))).first()
        if row is None:
            return LinkStatus(LinkState.OFF)
        lapsed = row.expires_at is None or row.expires_at < self.clock.now()
        state = LinkState.OFF if lapsed and row.state != LinkState.OFF.value else LinkState(row.state)
        return LinkStatus(
            state, row.holder, row.connected_since, row.last_error, row.calls_served, row.updated_at
        )

    async def _update(self, **values: Any) -> None:
        async with self.store.write() as tx:
            mine = (DOJO_SOCKET.c.name == NAME) & (DOJO_SOCKET.c.holder == self.me)
            await tx.execute(update(DOJO_SOCKET).where(mine).values(**values))
