"""Named queries: how orders, their lines, payments, history and changes go in and out of the
tables. Core statements, batched per table, so placing or loading an order costs a fixed
handful of statements however many items it has. Nothing here commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Dialect, Row, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def dialect_insert(tx: AsyncConnection, table: Table) -> Any:
    """INSERT in the current dialect, for its ON CONFLICT clauses (SQLite and PostgreSQL agree)."""
    dialect = tx.dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def insert_ignoring(tx: AsyncConnection, table: Table, *targets: str) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING."""
    return dialect_insert(tx, table).on_conflict_do_nothing(index_elements=list(targets) or None)


async def insert_many(tx: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """One executemany of rows that all have the same keys, straight to the driver. Core's
    executemany processes every parameter of every row through its generic machinery, which was
    a fifth of CreateOrder's time on the event loop (bench/RESULTS.md); here each value goes
    through its column type's own bind processor and nothing else."""
    if not rows:
        return
    sql, columns = _insert_plan(tx.dialect, table, tuple(rows[0]))
    await tx.exec_driver_sql(
        sql,
        [tuple(value(row) for value in columns) for row in rows],
    )


@cache
def _insert_plan(
    dialect: Dialect, table: Table, keys: tuple[str, ...]
) -> tuple[str, list[Callable[[Mapping[str, Any]], Any]]]:
    quote = dialect.identifier_preparer.quote
    names = [*keys, *(c.name for c in table.columns if c.name not in keys and c.default is not None)]
    marks = {"qmark": "?", "numeric_dollar": "${n}", "format": "%s"}  # SQLite, asyncpg, psycopg
    placeholders = [marks[dialect.paramstyle].format(n=n) for n in range(1, len(names) + 1)]
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
        f"VALUES ({', '.join(placeholders)})"
    )
    return sql, [_value(dialect, table, name, given=name in keys) for name in names]


def _value(dialect: Dialect, table: Table, name: str, *, given: bool) -> Callable[[Mapping[str, Any]], Any]:
    column = table.c[name]
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    if not given:  # a Python-side default the rows leave out
        default = getattr(column.default, "arg", None)
        if callable(default) or default is None:
            raise TypeError(f"{table.name}.{name} has no scalar default: the rows must give it")
        return lambda row: process(default) if process else default
    if process is None:
        return lambda row: row[name]
    return lambda row: process(row[name])


async def rows(tx: AsyncConnection, table: Table, where: Any, *order_by: Any) -> Sequence[Row[Any]]:
    return (await tx.execute(select(table).where(where).order_by(*order_by))).all()


def grouped(
    rows: Iterable[Row[Any]], key: Any = lambda row: row.order_id
) -> defaultdict[Any, list[Row[Any]]]:
    groups: defaultdict[Any, list[Row[Any]]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return groups
