"""Rows as records: named tuples, read through SQLAlchemy or straight from the sqlite3
connection under the inline driver.

A Row finds a column by name in its `__getattr__`, after Python's own lookup failed: ~0.5 us,
against ~40 ns for a named tuple's field, and reading 500 open orders asks ~60,000 of them.

A statement through SQLAlchemy (an execution context, a cursor wrapper, a result object, its
processors) cost ~45 us on SQLite, where sqlite3 itself takes ~10, and a GetOrderById runs three
(bench/reads.py). `fetch` compiles a SELECT once and runs it on sqlite3 itself, its lists of
values spread into placeholders as Core spreads them, each column through its type's own
result processor, so a record holds what SQLAlchemy would have given.
While tracing, or on PostgreSQL, it goes through SQLAlchemy: statement spans come from its events.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, TypeAlias

from sqlalchemy import Connection, Result, Select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler

from server import spans
from server.sqlite_inline import InlineConnection

# A row read here: its columns by name, as a Row's are.
Record: TypeAlias = Any


def records(result: Result[Any]) -> list[Record]:
    """A result's rows as named tuples."""
    make = _record(tuple(result.keys()))._make
    return [make(row) for row in result]


def fetch(connection: Connection, query: Select[Any], parameters: Mapping[str, Any]) -> list[Record]:
    """The rows of `query` as records, the same whichever way they come."""
    driver = _sqlite(connection)
    if driver is None or spans.tracing():
        return records(connection.execute(query, parameters))
    plan = _plans.get(query) or _Plan.of(query, connection)
    if len(_plans) < MAX_PLANS:
        _plans[query] = plan
    state = plan.compiled.construct_expanded_state(parameters)  # lists into placeholders, as Core does
    try:
        rows = driver.execute(state.statement, state.positional_parameters).fetchall()
    except sqlite3.Error as exc:  # as SQLAlchemy would have raised it: the store maps it
        raise DBAPIError.instance(
            state.statement, parameters, exc, sqlite3.Error, dialect=connection.dialect
        ) from exc
    return [plan.record(row) for row in rows]


@dataclass(frozen=True, slots=True)
class _Plan:
    compiled: SQLCompiler
    make: Callable[[Any], Record]
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column, its type's result processor)

    @classmethod
    def of(cls, query: Select[Any], connection: Connection) -> _Plan:
        dialect = connection.dialect
        compiled = query.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        columns = list(query.selected_columns)
        processors = ((n, c.type.result_processor(dialect, None)) for n, c in enumerate(columns))
        return cls(
            compiled=compiled,
            make=_record(tuple(column.key for column in columns))._make,
            processors=tuple((n, processor) for n, processor in processors if processor is not None),
        )

    def record(self, row: tuple[Any, ...]) -> Record:
        if not self.processors:
            return self.make(row)
        values = list(row)
        for n, processor in self.processors:
            values[n] = processor(values[n])
        return self.make(values)


MAX_PLANS: Final = 64  # the statements are built once, at import: a handful
_plans: dict[Select[Any], _Plan] = {}  # by the statement object itself


def _sqlite(connection: Connection) -> sqlite3.Connection | None:
    """The sqlite3 connection under the inline driver (server/sqlite_inline.py), else None."""
    driver = connection.connection.driver_connection
    return driver.sqlite if isinstance(driver, InlineConnection) else None


@cache
def _record(fields: tuple[str, ...]) -> Any:
    return namedtuple("Record", fields, rename=True)  # one class per statement's columns
