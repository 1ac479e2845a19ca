from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Select, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import QueuePool

from server.actors import Actor
from server.errors import Unavailable
from server.models import UtcDateTime
from server.orders.filters import SearchFilters
from server.orders.service import Orders
from server.records import select_all
from server.settings import Settings
from server.sqlite_inline import InlineConnection
from server.store import MAX_KEPT, Store, async_url, create_store
from tests.factories import make_draft
from tests.waiting import until


def test_plain_urls_get_the_async_drivers():
    assert async_url("sqlite:///./orderpass.db").drivername == "sqlite+aiosqlite"
    assert async_url("postgresql://me@db:5432/venue").drivername == "postgresql+asyncpg"
    assert async_url("postgres://me@db/venue").drivername == "postgresql+asyncpg"


async def test_sqlite_runs_in_wal_mode_with_the_configured_durability(store: Store, sqlite_path):
    async with store.read() as session:
        assert (await session.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await session.execute(text("PRAGMA synchronous"))).scalar() == 2  # FULL
        assert (await session.execute(text("PRAGMA foreign_keys"))).scalar() == 1


async def test_sqlite_binds_a_null_through_an_adapter_not_two_attribute_errors(store: Store, sqlite_path):
    """Python 3.11's sqlite3 offers None to its adapters and, finding none, raises and formats an
    AttributeError for `__adapt__` and another for `__conform__`: 4.7% of a CreateOrder's
    instructions (bench/RESULTS.md). The store registers one that answers None."""
    adapter = sqlite3.adapters.get((type(None), sqlite3.PrepareProtocol))
    assert adapter is not None
    assert adapter(None) is None
    async with store.read() as session:
        assert (await session.execute(text("SELECT :v IS NULL"), {"v": None})).scalar() == 1


async def test_writers_in_one_process_queue_instead_of_failing_on_the_lock(settings: Settings, broker, clock):
    """On SQLite they queue on the in-process lock; on PostgreSQL they simply run concurrently."""
    store = create_store(settings.replace(busy_timeout_ms=1))
    try:
        orders = Orders(store=store, broker=broker, clock=clock)
        await asyncio.gather(*(orders.place(make_draft(), by=Actor.staff("t")) for _ in range(30)))
        assert len((await orders.search(SearchFilters(), limit=100)).items) == 30
    finally:
        await store.close()


async def test_a_lock_held_past_the_busy_timeout_is_unavailable_and_writes_nothing(
    settings: Settings, broker, clock, sqlite_path
):
    store = create_store(settings.replace(busy_timeout_ms=100))
    blocker = sqlite3.connect(sqlite_path, isolation_level=None)
    try:
        orders = Orders(store=store, broker=broker, clock=clock)
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(Unavailable, match=r"^the database is busy; retry$"):  # not the driver's words
            await orders.place(make_draft(), by=Actor.staff("t"))
        blocker.execute("ROLLBACK")
        assert (await orders.search(SearchFilters())).items == []
    finally:
        blocker.close()
        await store.close()


# Another orderpass process on the same file, holding the write turn until told to let go.
HOLDER = """
import asyncio, sys
from datetime import timedelta
from server.store import Turn

async def hold():
    turn = Turn(sys.argv[1])
    async with turn.taken(timedelta(seconds=5)):
        print("held", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
    turn.close()

asyncio.run(hold())
"""


@contextmanager
def turn_held_elsewhere(sqlite_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding this file's write turn; it lets go when told (`let_go`)."""
    command = [sys.executable, "-c", HOLDER, str(sqlite_path)]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline() == "held\n"
            yield holder
        finally:
            holder.kill()


def let_go(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.write("\n")
    holder.stdin.flush()


def turn_is_free(sqlite_path: Path) -> bool:
    fd = os.open(f"{sqlite_path}-writers.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # lets go of the lock, if taken


async def test_processes_writing_one_file_take_turns(settings: Settings, broker, clock, sqlite_path):
    """A write waits while another process has the turn (it holds no SQLite lock meanwhile, so
    only the turn can hold this one back), and goes as soon as that process lets go."""
    store = create_store(settings)
    try:
        orders = Orders(store=store, broker=broker, clock=clock)
        with turn_held_elsewhere(sqlite_path) as holder:
            placing = asyncio.create_task(orders.place(make_draft(), by=Actor.staff("t")))
            await asyncio.sleep(0.3)
            assert not placing.done()  # waiting for its turn
            let_go(holder)
            await asyncio.wait_for(placing, 5)
        assert len((await orders.search(SearchFilters())).items) == 1
    finally:
        await store.close()


async def test_a_process_killed_while_it_has_the_turn_leaves_it_free(settings: Settings, sqlite_path):
    """SIGKILL runs no cleanup: the OS lets go of the dead process's lock with its files, so the
    others write on (SQLite rolls its unfinished transaction back the same way)."""
    store = create_store(settings)
    try:
        with turn_held_elsewhere(sqlite_path) as holder:
            writing = asyncio.create_task(write_version(store, 5))
            await asyncio.sleep(0.2)
            assert not writing.done()
            holder.kill()
            await asyncio.wait_for(writing, 5)
        async with store.read() as tx:
            assert (await tx.execute(text("PRAGMA user_version"))).scalar() == 5
    finally:
        await store.close()


async def write_version(store: Store, version: int) -> None:
    """A write as small as they come: SQLite's header field for applications."""
    async with store.write() as tx:
        await tx.execute(text(f"PRAGMA user_version = {version}"))


@pytest.mark.parametrize("gives_up", ["past its patience", "cancelled"])
async def test_a_wait_for_the_turn_given_up_never_keeps_the_turn(
    settings: Settings, sqlite_path, gives_up: str
):
    """The turn is waited for on a thread, which may get it after the write stopped waiting (its
    patience ran out, or its request was cancelled): it must go straight back, or every other
    process would wait for it for ever."""
    store = create_store(settings.replace(busy_timeout_ms=200 if gives_up == "past its patience" else 60_000))
    try:
        with turn_held_elsewhere(sqlite_path) as holder:
            writing = asyncio.create_task(write_version(store, 7))
            if gives_up == "cancelled":
                await asyncio.sleep(0.2)
                writing.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await writing
            else:
                with pytest.raises(Unavailable, match=r"^the database is busy; retry$"):
                    await writing
            let_go(holder)
            assert holder.wait(5) == 0
        await until(lambda: turn_is_free(sqlite_path), 5)
        async with store.read() as tx:
            assert (await tx.execute(text("PRAGMA user_version"))).scalar() == 0  # nothing written
        await asyncio.wait_for(write_version(store, 8), 5)  # and the next write has its turn
    finally:
        await store.close()


@pytest.mark.parametrize("stored", ["2026-11-30 07:50:49.123456", "2026-11-30 07:50:49", "2026-11-30 07:50"])
async def test_a_time_reads_back_aware_in_utc_whatever_text_sqlite_holds(store: Store, sqlite_path, stored):
    # UtcDateTime parses SQLite's own form in one step (server/models.py); any other, as before.
    async with store.read() as tx:
        query = select(
            literal_column(f"'{stored}'", type_=UtcDateTime()), literal_column("NULL", type_=UtcDateTime())
        )
        (read, empty) = (await tx.execute(query)).one()
    assert read == datetime.fromisoformat(stored).replace(tzinfo=UTC)
    assert read.tzinfo is UTC
    assert empty is None


async def test_reads_on_sqlite_keep_a_few_connections_and_never_a_failed_one(store: Store, sqlite_path):
    """A read takes a kept connection rather than SQLAlchemy's pool's (server/store.py): one read
    after another uses one; at most MAX_KEPT stay open after a rush; a read that raised rolls
    back and gives its connection back to the pool; and closing the store closes them all."""
    for _ in range(5):
        async with store.read() as tx:
            await tx.execute(text("SELECT 1"))
    assert checked_out(store) == 1  # kept between reads, the same one each time

    release = asyncio.Event()

    async def holding() -> None:
        async with store.read() as tx:
            await tx.execute(text("SELECT 1"))
            await release.wait()

    rush = [asyncio.create_task(holding()) for _ in range(MAX_KEPT + 4)]
    await asyncio.sleep(0.05)
    assert checked_out(store) == MAX_KEPT + 4
    release.set()
    await asyncio.gather(*rush)
    assert checked_out(store) == MAX_KEPT

    with pytest.raises(RuntimeError):
        await fail_within(store.read(), "SELECT 1")
    assert checked_out(store) == MAX_KEPT - 1  # that one went back, rolled back
    async with store.read() as tx:  # and the next read begins a fresh transaction
        assert sqlite_of(tx).in_transaction
        assert (await tx.execute(text("SELECT 1"))).scalar() == 1
    await store.close()
    assert checked_out(store) == 0


async def test_writes_on_sqlite_take_turns_on_one_kept_connection(store: Store, sqlite_path):
    for n in range(3):
        async with store.write() as tx:
            await tx.execute(text("CREATE TABLE IF NOT EXISTS scratch (n INTEGER)"))
            await tx.execute(text("INSERT INTO scratch VALUES (:n)"), {"n": n})
    assert checked_out(store) == 1

    with pytest.raises(RuntimeError):
        await fail_within(store.write(), "INSERT INTO scratch VALUES (99)")
    assert checked_out(store) == 0  # rolled back and given back, not kept
    async with store.write() as tx:
        await tx.execute(text("INSERT INTO scratch VALUES (3)"))
    async with store.read() as tx:
        assert (await tx.execute(text("SELECT n FROM scratch ORDER BY n"))).scalars().all() == [0, 1, 2, 3]
    await store.close()
    assert checked_out(store) == 0


def checked_out(store: Store) -> int:
    """Connections out of the engine's pool: the ones in use and the ones the store keeps."""
    pool = store.engine.pool
    assert isinstance(pool, QueuePool)
    return pool.checkedout()


async def test_a_read_on_sqlite_is_one_snapshot_whichever_way_its_statements_go(store: Store, sqlite_path):
    """BEGIN and COMMIT go straight to sqlite3 (Store._snapshot); a statement through SQLAlchemy
    in the middle joins the same transaction, so a write committed meanwhile stays unseen until
    the read ends, and the connection is kept with no transaction left open."""
    async with store.write() as tx:
        await tx.execute(text("CREATE TABLE scratch (n INTEGER)"))
        await tx.execute(text("INSERT INTO scratch VALUES (1)"))
    count: Select[Any] = select(literal_column("count(*)")).select_from(text("scratch"))

    async def add(n: int) -> None:
        async with store.write() as tx:
            await tx.execute(text("INSERT INTO scratch VALUES (:n)"), {"n": n})

    async with store.read() as tx:
        (before,) = await select_all(tx, count)
        await add(2)  # another connection commits while this snapshot is open
        through = (await tx.execute(count)).scalar()  # SQLAlchemy's way: autobegins on the same one
        (straight,) = await select_all(tx, count)
        await add(3)
        assert tx.in_transaction()
    assert (before[0], through, straight[0]) == (1, 1, 1)
    async with store.read() as tx:
        (after,) = await select_all(tx, count)
        assert sqlite_of(tx).in_transaction
        assert not tx.in_transaction()  # straight: SQLAlchemy has not begun one of its own
    assert after[0] == 3
    assert not sqlite_of(tx).in_transaction


def sqlite_of(tx: AsyncConnection) -> sqlite3.Connection:
    """The sqlite3 connection under a store's connection (server/sqlite_inline.py)."""
    assert tx.sync_connection is not None
    driver = tx.sync_connection.connection.driver_connection
    assert isinstance(driver, InlineConnection)
    return driver.sqlite


async def fail_within(transaction: AbstractAsyncContextManager[AsyncConnection], statement: str) -> None:
    """Run a statement in this read or write, then fail as the caller's own code might."""
    async with transaction as tx:
        await tx.execute(text(statement))
        raise RuntimeError("the caller's own failure")
