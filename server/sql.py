"""Named queries: how orders, their lines, payments, history and changes go in and out of the
tables. Core statements, batched per table, so placing or loading an order costs a fixed
handful of statements however many items it has. Nothing here commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import chain
from operator import itemgetter
from typing import Any, Final

from sqlalchemy import Dialect, Row, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from server.sqlite_inline import run_straight, straight


def writers_overlap(tx: AsyncConnection) -> bool:
    """Whether write transactions run at once here (PostgreSQL), so a use case takes the locks
    its reads need itself; SQLite's writers take turns already (BEGIN IMMEDIATE, server/store.py)."""
    return tx.dialect.name == "postgresql"


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
    plan = _insert_plan(tx.dialect, table, tuple(rows[0]))
    await _executemany(tx, plan.sql, plan.parameters(rows))


async def insert_values(
    tx: AsyncConnection, table: Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> None:
    """`insert_many` of rows given as tuples of these columns' values, with no dict a row."""
    if not rows:
        return
    plan = _insert_plan(tx.dialect, table, columns)
    await _executemany(tx, plan.sql, plan.bound(rows))


async def _executemany(tx: AsyncConnection, sql: str, values: list[tuple[Any, ...]]) -> None:
    direct = straight(tx.sync_connection)
    if direct is None:
        await tx.exec_driver_sql(sql, values)
    else:
        run_straight(tx.dialect, direct.executemany, sql, values)


async def insert_returning(
    tx: AsyncConnection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    returning: tuple[str, ...],
    *,
    ignore_conflicts: bool = False,
) -> list[tuple[Any, ...]]:
    """One multi-row INSERT of rows that all have the same keys, straight to the driver, with
    the `returning` columns of each row written (in no particular order); rows that clash with
    a unique key are skipped, not refused, when `ignore_conflicts`. What Core's "insertmanyvalues"
    does, without its per-parameter machinery: CreateOrder's head rows and change log."""
    if not rows:
        return []
    plan = _insert_plan(tx.dialect, table, tuple(rows[0]))
    direct = straight(tx.sync_connection)
    found: list[tuple[Any, ...]] = []
    for start in range(0, len(rows), plan.rows_per_statement):
        chunk = plan.parameters(rows[start : start + plan.rows_per_statement])
        sql = plan.values_for(len(chunk), returning=returning, ignore_conflicts=ignore_conflicts)
        values = tuple(chain.from_iterable(chunk))
        if direct is None:
            found += [tuple(row) for row in await tx.exec_driver_sql(sql, values)]
        else:
            found += run_straight(tx.dialect, direct.execute, sql, values).fetchall()
    return found


MAX_PARAMETERS: Final = 30_000  # per statement: SQLite allows 32,766, PostgreSQL 32,767


@dataclass(frozen=True, slots=True)
class _InsertPlan:
    """How rows with these keys go into a table: the columns (the keys, then any scalar default
    the rows leave out), how each value is bound, and the SQL."""

    dialect: Dialect
    table: Table
    names: tuple[str, ...]
    given: Callable[[Mapping[str, Any]], tuple[Any, ...]]  # the keys' values of a row, in order
    processed: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, bind processor)
    defaults: tuple[Any, ...]  # the bound values of the columns the rows leave out
    sql: str

    @property
    def rows_per_statement(self) -> int:
        return max(1, MAX_PARAMETERS // len(self.names))

    def parameters(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        given = self.given
        return self.bound([given(row) for row in rows])

    def bound(self, rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Rows of the keys' values, in order, with the defaults after them, as bound."""
        defaults = self.defaults
        if not self.processed:
            return [row + defaults for row in rows] if defaults else list(rows)
        values = [[*row, *defaults] for row in rows]
        for position, process in self.processed:  # a column at a time: no call per value but these
            for row_values in values:
                if row_values[position] is not None:
                    row_values[position] = process(row_values[position])
        return [tuple(row_values) for row_values in values]

    def values_for(self, count: int, *, returning: tuple[str, ...], ignore_conflicts: bool) -> str:
        return _values_sql(self.dialect, self.table, self.names, count, returning, ignore_conflicts)


@cache
def _insert_plan(dialect: Dialect, table: Table, keys: tuple[str, ...]) -> _InsertPlan:
    left_out = [c.name for c in table.columns if c.name not in keys and c.default is not None]
    names = (*keys, *left_out)
    processed, defaults = [], []
    for position, name in enumerate(names):
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if name in left_out:  # a Python-side default the rows leave out
            default = getattr(table.c[name].default, "arg", None)
            if callable(default) or default is None:
                raise TypeError(f"{table.name}.{name} has no scalar default: the rows must give it")
            defaults.append(process(default) if process else default)
        elif process is not None:
            processed.append((position, _remembered(process)))
    getter = itemgetter(*keys)
    given = (lambda row: (getter(row),)) if len(keys) == 1 else getter
    return _InsertPlan(
        dialect, table, names, given, tuple(processed), tuple(defaults),
        _values_sql(dialect, table, names, 1, (), False),
    )  # fmt: skip


def _remembered(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A bind processor that works out each value once: a batch's rows share their times (every
    row of a CreateOrder batch is stamped with one `now`), and formatting a datetime for SQLite
    was a tenth of writing them."""
    remember = lru_cache(maxsize=256, typed=True)(process)  # typed: 1 and True are different values

    def bound(value: Any) -> Any:
        try:
            return remember(value)
        except TypeError:  # unhashable (a JSON column's list): as it comes
            return process(value)

    return bound


@cache
def _values_sql(
    dialect: Dialect, table: Table, names: tuple[str, ...], count: int, returning: tuple[str, ...],
    ignore_conflicts: bool,
) -> str:  # fmt: skip
    quote = dialect.identifier_preparer.quote
    style = {"qmark": "?", "numeric_dollar": "${n}", "format": "%s"}[dialect.paramstyle]
    width = len(names)
    rows = (
        "(" + ", ".join(style.format(n=row * width + n) for n in range(1, width + 1)) + ")"
        for row in range(count)
    )
    sql = f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) VALUES {', '.join(rows)}"
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    if returning:
        sql += " RETURNING " + ", ".join(quote(n) for n in returning)
    return sql


async def rows(tx: AsyncConnection, table: Table, where: Any, *order_by: Any) -> Sequence[Row[Any]]:
    return (await tx.execute(select(table).where(where).order_by(*order_by))).all()


def grouped(
    rows: Iterable[Row[Any]], key: Any = lambda row: row.order_id
) -> defaultdict[Any, list[Row[Any]]]:
    groups: defaultdict[Any, list[Row[Any]]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return groups
