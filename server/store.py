"""The database: one engine per app, short transactions, and database trouble mapped to
`Unavailable` in one place.

SQLite runs in WAL mode. A write transaction starts with BEGIN IMMEDIATE, so it takes the
write lock before it reads and can never fail half-way on a lock upgrade; writers in one
process queue on an asyncio lock instead of spinning in SQLite's busy handler, and
`busy_timeout` covers writers in other processes. Because SQLite writes are serialized, the
autoincrement change sequence is assigned in commit order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from server.errors import Unavailable
from server.settings import Settings

DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}


def async_url(url: str) -> URL:
    """The plain URL an operator hands over, with the async driver this app uses."""
    parsed = make_url(url)
    return parsed.set(drivername=DRIVERS.get(parsed.drivername, parsed.drivername))


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        # Core connections, not ORM sessions: every query here is a Core statement, and a
        # session's unit of work cost a sixth of a busy CreateOrder for nothing.
        self._writer = engine.execution_options(begin="IMMEDIATE") if self.dialect == "sqlite" else engine
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        queue: AbstractAsyncContextManager[Any] = self._write_lock or nullcontext()
        async with queue, _mapped_errors(), self._writer.begin() as connection:
            yield connection

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """One consistent snapshot for reading."""
        async with _mapped_errors(), self.engine.begin() as connection:
            yield connection

    async def ping(self) -> None:
        async with self.read() as session:
            await session.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()


def create_store(settings: Settings) -> Store:
    url = async_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(url, pool_size=8, max_overflow=8)
        _tune_sqlite(engine, settings)
    else:
        engine = create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
    return Store(engine)


def _tune_sqlite(engine: AsyncEngine, settings: Settings) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            f"synchronous={settings.sqlite_synchronous}",
            f"busy_timeout={settings.busy_timeout_ms}",
            "foreign_keys=ON",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql(f"BEGIN {connection.get_execution_options().get('begin', 'DEFERRED')}")


_UNAVAILABLE_WORDS = ("locked", "busy", "unable to open", "disk i/o", "connection", "terminat", "timeout")


@asynccontextmanager
async def _mapped_errors() -> AsyncIterator[None]:
    try:
        yield
    except (PoolTimeout, OSError) as exc:
        raise Unavailable(f"database unavailable: {_reason(exc)}") from exc
    except DBAPIError as exc:
        if _is_unavailable(exc):
            raise Unavailable(f"database unavailable: {_reason(exc)}") from exc
        raise


def _is_unavailable(exc: DBAPIError) -> bool:
    if exc.connection_invalidated or isinstance(exc, InterfaceError):
        return True
    reason = _reason(exc).lower()
    return isinstance(exc, OperationalError) and any(word in reason for word in _UNAVAILABLE_WORDS)


def _reason(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    return str(original).splitlines()[0] if str(original) else type(original).__name__
