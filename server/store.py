"""The database: one engine per app, short transactions, and database trouble mapped to
`Unavailable` in one place.

SQLite runs in WAL mode, on the event loop's own thread (server/sqlite_inline.py). A write
transaction starts with BEGIN IMMEDIATE, so it takes the write lock before it reads and can
never fail half-way on a lock upgrade. Writers in one process queue on an asyncio lock; processes
writing one file take turns through an OS lock beside it (`Turn`), woken the moment it is free,
up to `busy_timeout_ms`; a writer that does not take turns (a sqlite3 shell) is waited for with
asyncio.sleep. Because SQLite writes are serialized, the autoincrement change sequence is
assigned in commit order.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from datetime import timedelta
from typing import Any, Final

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from server.background import Worker
from server.errors import InvalidRequest, Unavailable
from server.settings import Settings
from server.sqlite_inline import connector, in_transaction, run_straight, straight
from server.text import NUL_REFUSED

MAX_KEPT = 8  # SQLite connections kept between reads: a read rarely waits, so few are open at once
DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}


def async_url(url: str) -> URL:
    """The plain URL an operator hands over, with the async driver this app uses."""
    parsed = make_url(url)
    return parsed.set(drivername=DRIVERS.get(parsed.drivername, parsed.drivername))


class Store:
    def __init__(
        self, engine: AsyncEngine, *, patience: timedelta = timedelta(seconds=5), turn: Turn | None = None
    ) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.patience = patience  # how long a write waits for another process's lock
        # Core connections, not ORM sessions: every query here is a Core statement, and a
        # session's unit of work cost a sixth of a busy CreateOrder for nothing.
        self._writer = engine.execution_options(begin="IMMEDIATE") if self.dialect == "sqlite" else engine
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None
        self._turn = turn  # SQLite on a file: the processes writing it take turns
        self._checkpointer: Checkpointer | None = None
        self._kept: list[AsyncConnection] = []  # SQLite: connections between reads (`read`)
        self._kept_writer: AsyncConnection | None = None  # SQLite: the connection between writes

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        queue: AbstractAsyncContextManager[Any] = self._write_lock or nullcontext()
        turn = self._turn.taken(self.patience) if self._turn else nullcontext()
        async with queue, _mapped_errors(), turn:
            connection = await self._begin_write()
            kept = False
            try:
                yield connection
                await connection.commit()
                # SQLite's writers take turns (the lock above): the next one begins on this
                # connection rather than on one checked out of the pool, as a read does (`read`).
                kept = self._write_lock is not None and not connection.invalidated
            finally:
                if kept:
                    self._kept_writer = connection
                else:
                    await connection.close()  # rolls back whatever was not committed

    async def _begin_write(self) -> AsyncConnection:
        """Begin a write transaction, waiting (without holding up the event loop) while another
        process holds SQLite's write lock; past `patience`, the database is unavailable."""
        deadline, pause = time.monotonic() + self.patience.total_seconds(), 0.005
        while True:
            connection, self._kept_writer = self._kept_writer or await self._writer.connect(), None
            try:
                await connection.begin()
                return connection
            except OperationalError as exc:
                await connection.close()
                if "locked" not in str(exc.orig) or time.monotonic() + pause > deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.1)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """One consistent snapshot for reading.

        On SQLite, on a connection this store keeps between reads (`MAX_KEPT` of them): taking
        one from SQLAlchemy's pool and giving it back (a checkout, a reset, a task to close it
        in) cost ~120 us CPU of an empty read's ~200, more than a GetOrderById's own statements;
        a kept connection pays only its BEGIN and COMMIT. The loop turns once a read, as it did
        when the engine's `begin()` closed the connection in a task of its own: without that
        turn, the ticket fragment's p99 under wrk's 32 connections went from ~110 ms to ~600."""
        if self.dialect != "sqlite":
            async with _mapped_errors(), self.engine.begin() as connection:
                yield connection
            return
        async with _mapped_errors():
            connection = self._kept.pop() if self._kept else await self.engine.connect()
            kept = False
            try:
                async with self._snapshot(connection):
                    yield connection
                kept = len(self._kept) < MAX_KEPT and not connection.invalidated
            finally:
                if kept:
                    self._kept.append(connection)
                else:  # failed, or more at once than are kept: back to the pool, as ever
                    await asyncio.shield(connection.close())
            await asyncio.sleep(0)

    @asynccontextmanager
    async def _snapshot(self, connection: AsyncConnection) -> AsyncIterator[None]:
        """A read's transaction on SQLite. Where statements go straight to sqlite3, BEGIN and
        COMMIT go there too: through SQLAlchemy each crossed its greenlet (~60 us of a read's
        ~95). A statement through SQLAlchemy meanwhile (`tx.execute`) begins SQLAlchemy's own
        transaction on the one already open (`_on_begin` sends no second BEGIN), and SQLAlchemy
        ends it; whatever listens to statements (tracing) sees SQLAlchemy's way throughout."""
        driver = straight(connection.sync_connection)
        if driver is None:
            async with connection.begin():
                yield
            return
        run_straight(connection.dialect, driver.execute, "BEGIN DEFERRED", ())
        try:
            yield
        except BaseException:
            if connection.in_transaction():
                await connection.rollback()
            elif driver.in_transaction:
                driver.rollback()
            raise
        if connection.in_transaction():
            await connection.commit()
        elif driver.in_transaction:
            run_straight(connection.dialect, driver.execute, "COMMIT", ())

    async def ping(self) -> None:
        async with self.read() as session:
            await session.execute(text("SELECT 1"))

    async def start(self) -> None:
        if self.dialect == "sqlite" and self.engine.url.database not in (None, "", ":memory:"):
            self._checkpointer = Checkpointer(str(self.engine.url.database))
            await self._checkpointer.start()

    async def close(self) -> None:
        if self._turn is not None:
            self._turn.close()
        if self._checkpointer is not None:
            await self._checkpointer.stop()
        if self._kept_writer is not None:
            self._kept.append(self._kept_writer)
            self._kept_writer = None
        while self._kept:
            await self._kept.pop().close()
        await self.engine.dispose()


class Turn:
    """Whose turn it is to write one SQLite file, among the processes serving it: an exclusive
    `flock` on a file beside the database, held from BEGIN IMMEDIATE to the commit's end.

    SQLite's own lock cannot be waited for: a writer that finds it taken can only retry, and the
    store's retries (asyncio.sleep, 5 ms doubling to 100) left two workers on one file slower than
    one (bench/RESULTS.md). The OS wakes a process waiting on this lock as soon as the holder lets
    go, so group commits in several processes follow each other with no gap. The wait blocks one
    thread of this turn's own (one in a process ever waits: the store's asyncio lock is taken
    first), never the event loop; a lock not free within `patience` is the database being busy,
    and a wait given up on (a timeout, a cancelled request) lets the lock go at once if the
    thread gets it afterwards. A process that dies holding it releases it with its files."""

    def __init__(self, database: str) -> None:
        self.path = f"{database}-writers.lock"
        self._fd = -1  # opened at the first write: a database that cannot be opened yet still serves
        self._waiter = ThreadPoolExecutor(1, thread_name_prefix="orderpass-sqlite-turn")

    @asynccontextmanager
    async def taken(self, patience: timedelta) -> AsyncIterator[None]:
        await self._take(patience.total_seconds())
        try:
            yield
        finally:
            if self._fd >= 0:  # else closed meanwhile (the store shut down), which let go of it
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    async def _take(self, patience: float) -> None:
        if self._fd < 0:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: no thread, ~1 us
            return
        except BlockingIOError:
            pass
        wait = _Wait(self._fd)
        waited = asyncio.get_running_loop().run_in_executor(self._waiter, wait.block)
        try:
            await asyncio.wait_for(asyncio.shield(waited), patience)
        except BaseException as exc:
            wait.abandon()  # if the thread has it, or gets it later, it goes straight back
            if isinstance(exc, TimeoutError):
                log.warning("database unavailable: another process kept the write turn past %.1f s", patience)
                raise Unavailable(BUSY) from None
            raise

    def close(self) -> None:
        self._waiter.shutdown(wait=False, cancel_futures=True)
        if self._fd >= 0:
            os.close(self._fd)  # lets go of the turn, if held
            self._fd = -1


class _Wait:
    """One wait for the turn on a thread, which the waiting request may give up on."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._guard = threading.Lock()
        self._abandoned = self._taken = False

    def block(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        with self._guard:
            if self._abandoned:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            else:
                self._taken = True

    def abandon(self) -> None:
        with self._guard:
            if self._taken:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            self._abandoned = True


class Checkpointer(Worker):
    """Copies SQLite's write-ahead log back into the database on a worker thread, every second.

    Left to SQLite, a checkpoint runs inside whichever commit crosses the threshold, on the event
    loop; here it runs beside it, on the other core, and never waits for anyone (PASSIVE)."""

    name = "orderpass-sqlite-checkpoint"

    def __init__(self, path: str, every: float = 1.0) -> None:
        self.path = path
        self.every = every

    async def stop(self) -> None:
        await super().stop()
        await asyncio.to_thread(self._checkpoint)  # leave the log short for the next start

    async def run(self, ready: asyncio.Event) -> None:
        ready.set()
        while True:
            await asyncio.sleep(self.every)
            try:
                await asyncio.to_thread(self._checkpoint)
            except sqlite3.Error as exc:  # the next round tries again
                log.warning("SQLite checkpoint failed: %s", exc)

    def _checkpoint(self) -> None:
        with contextlib.closing(sqlite3.connect(self.path, timeout=1)) as db:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")


def create_store(settings: Settings) -> Store:
    url = async_url(settings.database_url)
    patience = timedelta(milliseconds=settings.busy_timeout_ms)
    if url.get_backend_name() == "sqlite":
        # As many kept as a busy venue's requests at once: a connection given back past the pool's
        # size is closed, and at 32 at once (bench/reads.py) 8 kept meant opening, tuning and
        # closing a SQLite connection for most GetOrderByIds (~250 us of ~820).
        engine = create_async_engine(
            url, pool_size=32, max_overflow=32, async_creator=connector(url.database or "")
        )
        _tune_sqlite(engine, settings)
        on_file = settings.sqlite_file
        return Store(engine, patience=patience, turn=Turn(str(on_file)) if on_file else None)
    engine = create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
    return Store(engine, patience=patience)


def _tune_sqlite(engine: AsyncEngine, settings: Settings) -> None:
    # Python 3.11's sqlite3 binds only exact int, float, str and bytearray as they are: anything
    # else, None included, is first offered to its adapters, and with none registered looks up
    # `__adapt__` and `__conform__`, two AttributeErrors built and formatted for every NULL. A
    # CreateOrder binds ~43 NULLs; with this adapter it takes 0.94x the instructions it did
    # (bench/RESULTS.md). It is found in one dict lookup and gives None back from C; registering
    # it again changes nothing.
    sqlite3.register_adapter(type(None), _NULL.get)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            f"synchronous={settings.sqlite_synchronous}",
            "busy_timeout=20",  # a short in-SQLite wait; the store waits longer itself, off the loop
            "foreign_keys=ON",
            "wal_autocheckpoint=0",  # the store checkpoints in the background instead (Checkpointer)
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if in_transaction(connection):  # a read's snapshot, begun on sqlite3 itself (Store._snapshot)
            return
        begin = f"BEGIN {connection.get_execution_options().get('begin', 'DEFERRED')}"
        driver = straight(connection)  # SQLAlchemy's way to run it cost ~70 us of every read's ~250
        if driver is None:
            connection.exec_driver_sql(begin)
        else:
            run_straight(connection.dialect, driver.execute, begin, ())


_NULL: Final[dict[object, None]] = {}  # whose `get` answers None for anything: a NULL's adapter
log = logging.getLogger("orderpass.store")
_UNSTORABLE_TEXT = ("22021", "22P05")  # PostgreSQL: character not in repertoire, untranslatable
_UNAVAILABLE_WORDS = ("locked", "busy", "unable to open", "disk i/o", "connection", "terminat", "timeout")
_BUSY_WORDS = ("locked", "busy")
# What a client hears. Never the driver's text: it names files, hosts, ports, tables and SQL,
# and would reach Dojo's debugMessage and GraphQL errors. That goes to our log, under the traceId.
BUSY = "the database is busy; retry"
DOWN = "the database is unavailable; retry"


@asynccontextmanager
async def _mapped_errors() -> AsyncIterator[None]:
    try:
        yield
    except (PoolTimeout, OSError) as exc:
        raise _unavailable(exc) from exc
    except DBAPIError as exc:
        if _is_unavailable(exc):
            raise _unavailable(exc) from exc
        if getattr(exc.orig, "sqlstate", None) in _UNSTORABLE_TEXT:
            raise InvalidRequest(NUL_REFUSED) from exc  # what the doors let by, e.g. a path's %00
        raise


def _unavailable(exc: BaseException) -> Unavailable:
    reason = _reason(exc)
    log.warning("database unavailable: %s: %s", type(getattr(exc, "orig", None) or exc).__name__, reason)
    busy = isinstance(exc, PoolTimeout) or any(word in reason.lower() for word in _BUSY_WORDS)
    return Unavailable(BUSY if busy else DOWN)


def _is_unavailable(exc: DBAPIError) -> bool:
    if exc.connection_invalidated or isinstance(exc, InterfaceError):
        return True
    reason = _reason(exc).lower()
    return isinstance(exc, OperationalError) and any(word in reason for word in _UNAVAILABLE_WORDS)


def _reason(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    return str(original).splitlines()[0] if str(original) else type(original).__name__
