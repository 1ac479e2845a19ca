"""The database schema's revision: upgrade it to the code's head, or tell how far behind it is."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from server.store import async_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


@dataclass(frozen=True, slots=True)
class Revision:
    current: str | None
    head: str

    @property
    def behind(self) -> bool:
        return self.current != self.head


def revision(database_url: str) -> Revision:
    return asyncio.run(state(database_url))


async def state(database_url: str) -> Revision:
    """`revision`, for a caller already on an event loop (`orderpass doctor`)."""
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    assert head is not None
    return Revision(await _current(database_url), head)


async def _current(database_url: str) -> str | None:
    engine = create_async_engine(async_url(database_url))
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_read_current)
    finally:
        await engine.dispose()


def _read_current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
