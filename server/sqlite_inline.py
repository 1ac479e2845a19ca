"""SQLite on the event loop's own thread, behind aiosqlite's interface, for SQLAlchemy's aiosqlite
dialect.

aiosqlite runs every call (opening a cursor, executing, fetching, closing) on a helper thread:
four thread round trips per statement, each waking the event loop, with the GIL passed back and
forth. SQLite work is short and, with one writer at a time, never overlaps anyway, so doing it
inline is cheaper: CreateOrder ran about a third faster (bench/RESULTS.md). Two things are slow:
waiting for another process's lock, which the store does itself, with asyncio.sleep, so the
loop never blocks on it (server/store.py); and a writing commit's fsync, which goes to a worker
thread (sqlite3 lets go of the GIL while it waits), another ~15%.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import DBAPIError


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> InlineCursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _RunNow:
    """aiosqlite's task queue, as SQLAlchemy's adapter uses it (to set the isolation level)."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:
            future.set_exception(exc)


class InlineConnection:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        self._connection: sqlite3.Connection | None = connection
        self._tx = _RunNow()
        self._changes = connection.total_changes

    @property
    def sqlite(self) -> sqlite3.Connection:
        """The sqlite3 connection itself, for statements run on it straight (server/records.py)."""
        return self._conn

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        """A commit that wrote waits for the disk (fsync): on a worker thread, so the loop goes on
        taking the next requests meanwhile (the connection is this transaction's alone until the
        commit returns). A read-only commit has nothing to wait for and stays inline."""
        if self._conn.total_changes == self._changes:
            self._conn.commit()
            return
        await asyncio.to_thread(self._conn.commit)
        self._changes = self._conn.total_changes

    async def rollback(self) -> None:
        self._conn.rollback()
        self._changes = self._conn.total_changes

    async def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._conn.isolation_level = value  # type: ignore[assignment]


def connector(path: str) -> Callable[[], Any]:
    """For create_async_engine(async_creator=...): a new inline connection to this file."""

    async def connect() -> InlineConnection:
        return InlineConnection(sqlite3.connect(path, check_same_thread=False, isolation_level=None))

    return connect


def straight(connection: Connection | None) -> sqlite3.Connection | None:
    """The sqlite3 connection under one of this module's connections, for a statement run on it
    straight: SQLAlchemy's way to the driver (an execution context, a cursor wrapper, a result)
    cost more than SQLite's own work on CreateOrder's inserts and a GetOrderById's reads
    (bench/RESULTS.md). None on any other connection, and whenever something listens to the
    engine's statements: tracing's instrumentation (the spans of statements come from those
    events), a test counting statements, an operator's own hook all see every one."""
    if connection is None:
        return None
    events = connection.dispatch
    if events.before_cursor_execute or events.after_cursor_execute:
        return None
    driver = connection.connection.driver_connection
    return driver.sqlite if isinstance(driver, InlineConnection) else None


def in_transaction(connection: Connection) -> bool:
    """Whether SQLite itself holds a transaction open on this connection (one of this module's)."""
    driver = connection.connection.driver_connection
    return isinstance(driver, InlineConnection) and driver.sqlite.in_transaction


def run_straight(
    dialect: Dialect, call: Callable[[str, Any], sqlite3.Cursor], sql: str, values: Any
) -> sqlite3.Cursor:
    """A statement on sqlite3 itself; its failure raised as SQLAlchemy would have raised it (an
    IntegrityError, an OperationalError), so the store maps it as it maps every other."""
    try:
        return call(sql, values)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, values, exc, sqlite3.Error, dialect=dialect) from exc
