"""Test databases on PostgreSQL: one migrated template per session, a copy per test."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from server.broker.postgres import dsn
from server.store import async_url

T = TypeVar("T")


def admin_url() -> str:
    url = os.environ.get("ORDERPASS_TEST_POSTGRES_URL")
    assert url, "no ORDERPASS_TEST_POSTGRES_URL"
    return url


def url_of(database: str) -> str:
    return make_url(admin_url()).set(database=database).render_as_string(hide_password=False)


def recreate(admin: str, name: str, *, template: str | None = None) -> None:
    async def work() -> None:
        connection = await asyncpg.connect(dsn(admin))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            suffix = f' TEMPLATE "{template}"' if template else ""
            await connection.execute(f'CREATE DATABASE "{name}"{suffix}')
        finally:
            await connection.close()

    in_thread(work)


def drop(admin: str, name: str) -> None:
    async def work() -> None:
        connection = await asyncpg.connect(dsn(admin))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    in_thread(work)


def run_sql(database_url: str, statement: str) -> None:
    """Run one statement behind the app's back (SQLite or PostgreSQL), as an operator might."""

    async def work() -> None:
        engine = create_async_engine(async_url(database_url))
        try:
            async with engine.begin() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()

    in_thread(work)


def in_thread(work: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on its own loop, whatever loop the caller is inside."""
    found: list[T] = []
    failed: list[BaseException] = []

    def target() -> None:
        try:
            found.append(asyncio.run(work()))  # type: ignore[arg-type]
        except BaseException as exc:
            failed.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    return found[0]
