"""server/sql.py and server/records.py: the batched inserts and the selects, on SQLite straight to
the driver (past SQLAlchemy) unless something listens to the engine's statements (tracing, this
file's own counting), and through SQLAlchemy everywhere else; both ways must write and read the
same rows and fail the same way."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any, Final

import pytest
from sqlalchemy import bindparam, event, or_, select
from sqlalchemy.exc import IntegrityError

from server.models import STATIONS
from server.records import select_all
from server.sql import insert_many, insert_returning
from server.sqlite_inline import straight
from server.store import Store

AT = datetime(2026, 11, 30, 8, 15, 30, 123000, tzinfo=UTC)


def _stations(prefix: str) -> list[dict[str, Any]]:
    return [
        {"id": f"{prefix}-grill", "name": "Grill ☕", "position": 1, "is_default": True, "prep_minutes": 12,
         "created_at": AT},
        {"id": f"{prefix}-bar", "name": "Bar", "position": 2, "is_default": False, "prep_minutes": None,
         "created_at": AT},
    ]  # fmt: skip


@contextmanager
def _statements(store: Store) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(*args: Any) -> None:
        seen.append(args[2])

    event.listen(store.engine.sync_engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", note)


async def _read(store: Store, prefix: str) -> list[tuple[Any, ...]]:
    async with store.read() as tx:
        found = await tx.execute(
            select(STATIONS).where(STATIONS.c.id.like(f"{prefix}-%")).order_by(STATIONS.c.id)
        )
        return [tuple(row)[1:] for row in found]  # all but the id, which differs by its prefix


async def test_an_insert_writes_the_same_rows_past_sqlalchemy_as_through_it(store: Store):
    with _statements(store) as through:  # a listener: every statement goes through SQLAlchemy
        async with store.write() as tx:
            assert straight(tx.sync_connection) is None
            await insert_many(tx, STATIONS, _stations("through"))
            await insert_returning(tx, STATIONS, _stations("through-returning"), ("id",))
    async with store.write() as tx:
        assert (straight(tx.sync_connection) is not None) == (store.dialect == "sqlite")
        await insert_many(tx, STATIONS, _stations("past"))
        await insert_returning(tx, STATIONS, _stations("past-returning"), ("id",))
    assert len([s for s in through if s.startswith("INSERT")]) == 2
    assert await _read(store, "past") == await _read(store, "through")
    assert await _read(store, "past-returning") == await _read(store, "through-returning")
    assert (await _read(store, "past"))[0][-1] == AT  # a datetime bound as SQLAlchemy binds it


@pytest.mark.parametrize("watched", [False, True])
async def test_a_clash_is_sqlalchemys_integrity_error_either_way_and_writes_nothing(
    store: Store, watched: bool
):
    async with store.write() as tx:
        await insert_many(tx, STATIONS, _stations("first"))

    async def clash() -> None:
        async with store.write() as tx:
            await insert_many(tx, STATIONS, _stations("second"))
            await insert_many(tx, STATIONS, _stations("first")[1:])  # the bar again

    with _statements(store) if watched else nullcontext(), pytest.raises(IntegrityError):
        await clash()
    assert await _read(store, "second") == []


async def test_an_insert_ignoring_conflicts_returns_only_the_rows_it_wrote(store: Store):
    async with store.write() as tx:
        await insert_many(tx, STATIONS, _stations("kept")[:1])
    async with store.write() as tx:
        written = await insert_returning(tx, STATIONS, _stations("kept"), ("id",), ignore_conflicts=True)
    assert written == [("kept-bar",)]


_IN: Final = (
    select(STATIONS)
    .where(
        or_(
            STATIONS.c.id.in_(bindparam("ids", expanding=True)),
            STATIONS.c.name.in_(bindparam("names", expanding=True)),
        )
    )
    .order_by(STATIONS.c.id)
)


@pytest.mark.parametrize(
    "asked",
    [{"ids": ["in-grill", "in-bar"], "names": []}, {"ids": [], "names": ["Bar"]}, {"ids": [], "names": []}],
)
async def test_a_select_reads_the_same_values_of_the_same_types_past_sqlalchemy_as_through_it(
    store: Store, asked: dict[str, list[str]]
):
    async with store.write() as tx:
        await insert_many(tx, STATIONS, _stations("in"))
    with _statements(store) as through:
        async with store.read() as tx:
            expected = [tuple(row) for row in await select_all(tx, _IN, asked)]
    async with store.read() as tx:
        assert (straight(tx.sync_connection) is not None) == (store.dialect == "sqlite")
        found = await select_all(tx, _IN, asked)
    assert [s for s in through if s.startswith("SELECT")] != []
    assert [tuple(row) for row in found] == expected
    assert [[type(value) for value in row] for row in found] == [
        [type(value) for value in row] for row in expected
    ]
    assert [(row.id, row.is_default, row.created_at) for row in found] == [
        (row[0], row[3], row[5]) for row in expected
    ]  # each value by its column's name, as Core's rows give it
