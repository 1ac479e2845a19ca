"""The cross-process broker: PostgreSQL LISTEN/NOTIFY, behind the same interface as MemoryBroker.

Every process keeps one listening connection and fans what it hears out to its local
subscribers' bounded queues. Messages are small (ids and sequence numbers; NOTIFY payloads are
limited to 8000 bytes) and only wake subscribers, who read what changed from the store. When the
listening connection drops it reconnects with backoff, and every subscriber gets a wake-up
message, so what was committed meanwhile is read from the store: nothing is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, Final

import asyncpg
from sqlalchemy.engine import make_url

from server.broker.memory import MemoryBroker

log = logging.getLogger("orderpass.broker")
RECONNECTED: Final = '{"reconnected": true}'
APPLICATION: Final = "orderpass-listen"  # how an operator (or a test) finds the listening backend


def dsn(url: str) -> str:
    """The plain libpq URL, whatever SQLAlchemy driver name it was given with."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresBroker:
    def __init__(self, url: str) -> None:
        self.dsn = dsn(url)
        self._here = MemoryBroker()  # this process's subscribers
        self._publisher: asyncpg.Connection | None = None
        self._publishing = asyncio.Lock()
        self._listener: asyncpg.Connection | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._closed = False

    async def publish(self, channel: str, message: str) -> None:
        async with self._publishing:
            for attempt in (1, 2):
                try:
                    if self._publisher is None or self._publisher.is_closed():
                        self._publisher = await asyncpg.connect(self.dsn)
                    await self._publisher.execute("SELECT pg_notify($1, $2)", channel, message)
                    return
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    self._publisher = None
                    if attempt == 2:  # subscribers poll the store too: a lost wake-up only delays
                        log.warning("could not NOTIFY %s: %s", channel, exc)

    async def ready(self) -> bool:
        """The LISTEN connection is up (once anyone subscribed: the keeper is not reconnecting it),
        and NOTIFY's connection answers a query."""
        if self._keeper is not None and (self._listener is None or self._listener.is_closed()):
            return False
        async with self._publishing:
            try:
                if self._publisher is None or self._publisher.is_closed():
                    self._publisher = await asyncpg.connect(self.dsn)
                await self._publisher.execute("SELECT 1")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                self._publisher = None
                return False
        return True

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[str]]:
        async with self._here.subscribe(channel) as messages:
            await self._listening(channel)
            yield messages

    async def close(self) -> None:
        self._closed = True
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        for connection in (self._listener, self._publisher):
            if connection is not None and not connection.is_closed():
                await connection.close()

    async def _listening(self, channel: str) -> None:
        """Make sure this process listens on the channel. If PostgreSQL cannot be reached now, the
        keeper goes on trying, and the subscriber polls the store meanwhile."""
        self._keeper = self._keeper or asyncio.create_task(self._keep_listening(), name="orderpass-listen")
        try:
            if self._listener is None or self._listener.is_closed():
                self._listener = await self._connect_listener()
            await self._listener.add_listener(channel, self._heard)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("cannot LISTEN on %s yet: %s", channel, exc)
            self._listener = None

    async def _connect_listener(self) -> asyncpg.Connection:
        connection = await asyncpg.connect(self.dsn, server_settings={"application_name": APPLICATION})
        connection.add_termination_listener(lambda _: log.warning("the LISTEN connection dropped"))
        return connection

    async def _keep_listening(self) -> None:
        """Reconnect a dropped listening connection, re-LISTEN, and wake every subscriber."""
        delay = 0.1
        while not self._closed:
            await asyncio.sleep(0.2)
            if self._listener is not None and not self._listener.is_closed():
                delay = 0.1
                continue
            try:
                self._listener = await self._connect_listener()
                for channel in self._here.channels():
                    await self._listener.add_listener(channel, self._heard)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("could not LISTEN again (retrying in %.1fs): %s", delay, exc)
                self._listener = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            log.info("listening again after a dropped connection")
            for channel in self._here.channels():
                self._heard(None, 0, channel, RECONNECTED)

    def _heard(self, _connection: Any, _pid: int, channel: str, payload: str) -> None:
        self._here.deliver(channel, payload)
