"""Named queries: how orders, their lines, payments, history and changes go in and out of the
tables. Core statements, batched per table, so placing or loading an order costs a fixed
handful of statements however many items it has. Nothing here commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def dialect_insert(session: AsyncConnection, table: Table) -> Any:
    """INSERT in the current dialect, for its ON CONFLICT clauses (SQLite and PostgreSQL agree)."""
    dialect = session.dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def insert_ignoring(session: AsyncConnection, table: Table, *targets: str) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING."""
    return dialect_insert(session, table).on_conflict_do_nothing(index_elements=list(targets) or None)


async def rows(session: AsyncConnection, table: Table, where: Any, *order_by: Any) -> Sequence[Row[Any]]:
    return (await session.execute(select(table).where(where).order_by(*order_by))).all()


def grouped(
    rows: Iterable[Row[Any]], key: Any = lambda row: row.order_id
) -> defaultdict[Any, list[Row[Any]]]:
    groups: defaultdict[Any, list[Row[Any]]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return groups
