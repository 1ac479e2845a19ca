"""Rows as records: named tuples, read through SQLAlchemy or straight from the sqlite3
connection under the inline driver.

A Row finds a column by name in its `__getattr__`, after Python's own lookup failed: ~0.5 us,
against ~40 ns for a named tuple's field, and reading 500 open orders asks ~60,000 of them.

A statement through SQLAlchemy (an execution context, a cursor wrapper, a result object, its
processors) cost ~45 us on SQLite, where sqlite3 itself takes ~10, and a GetOrderById runs three
(bench/reads.py). `fetch` compiles a SELECT once and runs it on sqlite3 itself, its lists of
values spread into placeholders as Core spreads them, each column through its type's own
result processor, so a record holds what SQLAlchemy would have given.
On PostgreSQL, and whenever something listens to the engine's statements (tracing's spans of
statements come from those events), it goes through SQLAlchemy (server/sqlite_inline.straight).
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final, TypeAlias, TypeVar

from sqlalchemy import Connection, Result, Select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.compiler import SQLCompiler

from server.sqlite_inline import run_straight, straight

# A row read here: its columns by name, as a Row's are.
Record: TypeAlias = Any
A = TypeVar("A")
R = TypeVar("R")


def records(result: Result[Any]) -> list[Record]:
    """A result's rows as named tuples."""
    make = _record(tuple(result.keys()))._make
    return [make(row) for row in result]


def fetch(connection: Connection, query: Select[Any], parameters: Mapping[str, Any]) -> list[Record]:
    """The rows of `query` as records, the same whichever way they come."""
    driver = straight(connection)
    if driver is None:
        return records(connection.execute(query, parameters))
    return _straight_rows(driver, connection, query, parameters)


async def select_all(
    tx: AsyncConnection, query: Select[Any], parameters: Mapping[str, Any] | None = None
) -> list[Record]:
    """`fetch` on an async connection: straight to sqlite3 with no greenlet to cross, where it can
    (CreateOrder's batch asks four of these)."""
    return await reading(tx, lambda connection, asked: fetch(connection, query, asked), parameters or {})


async def reading(tx: AsyncConnection, reader: Callable[[Connection, A], R], argument: A) -> R:
    """`tx.run_sync(reader, argument)`, without crossing into a greenlet where every statement
    goes straight to sqlite3 and nothing in the reader awaits (~15 us a call). The reader reads
    through `fetch` alone: a statement through SQLAlchemy's own `execute` would need the greenlet."""
    connection = tx.sync_connection
    if connection is not None and straight(connection) is not None:
        return reader(connection, argument)
    return await tx.run_sync(reader, argument)


def _straight_rows(
    driver: sqlite3.Connection, connection: Connection, query: Select[Any], parameters: Mapping[str, Any]
) -> list[Record]:
    plan = _plans.get(query) or _Plan.of(query, connection)
    if len(_plans) < MAX_PLANS:
        _plans[query] = plan
    found = run_straight(connection.dialect, driver.execute, *plan.statement(parameters))
    return [plan.record(row) for row in found.fetchall()]


@dataclass(frozen=True, slots=True)
class _Plan:
    compiled: SQLCompiler
    make: Callable[[Any], Record]
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column, its type's result processor)
    binds: Mapping[str, Callable[[Any], Any]]  # a parameter's type's bind processor, where it has one
    # The statement as compiled, its placeholders' names in order and the values the statement
    # binds itself; None where a list is spread into placeholders (Core expands it per call).
    text: str | None
    names: tuple[str, ...]
    fixed: Mapping[str, Any]
    # Where lists are spread: the names of those parameters, and the SQL each set of their
    # lengths spreads into, worked out once (None: spread by Core every call, see `_spreads`).
    spread: tuple[str, ...] | None = None
    shapes: dict[tuple[int, ...], _Shape | None] = field(default_factory=dict)

    @classmethod
    def of(cls, query: Select[Any], connection: Connection) -> _Plan:
        dialect = connection.dialect
        compiled = query.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        columns = list(query.selected_columns)
        processors = (
            (n, c.type.dialect_impl(dialect).result_processor(dialect, None)) for n, c in enumerate(columns)
        )
        binds = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in compiled.binds.items()
        }
        names = tuple(compiled.positiontup or ())
        plain = all(
            name in compiled.binds
            and not compiled.binds[name].expanding
            and not compiled.binds[name].callable
            for name in names
        )
        return cls(
            compiled=compiled,
            make=_record(tuple(column.key for column in columns))._make,
            processors=tuple((n, processor) for n, processor in processors if processor is not None),
            binds={name: processor for name, processor in binds.items() if processor is not None},
            text=compiled.string if plain and not compiled.escaped_bind_names else None,
            names=names,
            fixed={name: bind.value for name, bind in compiled.binds.items() if not bind.required},
            spread=_spreads(compiled),
        )

    def statement(self, parameters: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The SQL and its values for these parameters, each through its type's bind processor as
        Core would send it, without Core's per-call expansion (~10 us; ~35 us of a KDS ticket's
        fetch on a busy server) where nothing is spread or these lengths were spread before."""
        names: Sequence[str]
        binds: Mapping[str, Callable[[Any], Any]]
        if self.spread is not None:  # a list the statement holds itself is spread like a given one
            parameters = {**self.fixed, **parameters}
        shape = self._shape(parameters) if self.text is None else None
        if shape is not None:
            text, names, binds = shape.text, shape.names, shape.binds
            values = self._placed(shape.slots, parameters)
        elif self.text is None:
            state = self.compiled.construct_expanded_state(parameters)  # lists into placeholders
            text, names, values = state.statement, state.positiontup or (), list(state.positional_parameters)
            binds = {**self.binds, **state.processors}
        else:
            text, names, binds = self.text, self.names, self.binds
            values = [parameters[name] if name in parameters else self.fixed[name] for name in names]
        if binds:
            for n, name in enumerate(names):
                bind = binds.get(name)
                if bind is not None:
                    values[n] = bind(values[n])
        return text, values

    def _shape(self, parameters: Mapping[str, Any]) -> _Shape | None:
        """The SQL these lists' lengths spread into, and where each value goes: worked out by
        Core once, with a marker in every place, and kept only if it gives what Core's own
        spreading of these very values gives (otherwise those lengths are left to Core)."""
        if self.spread is None:
            return None
        lengths = tuple(len(parameters[name]) for name in self.spread)
        if lengths in self.shapes:
            return self.shapes[lengths]
        if len(self.shapes) >= MAX_SHAPES:
            return None
        marked = {
            **parameters,
            **{name: [_Slot(name, n) for n in range(len(parameters[name]))] for name in self.spread},
        }
        state = self.compiled.construct_expanded_state(marked)
        names = tuple(state.positiontup or ())
        slots = tuple(
            (value.name, value.index) if isinstance(value, _Slot) else (name, -1)
            for name, value in zip(names, state.positional_parameters, strict=True)
        )
        shape: _Shape | None = _Shape(state.statement, names, {**self.binds, **state.processors}, slots)
        core = self.compiled.construct_expanded_state(dict(parameters))
        spread = (core.statement, tuple(core.positiontup or ()), list(core.positional_parameters))
        if spread != (state.statement, names, self._placed(slots, parameters)):
            shape = None
        self.shapes[lengths] = shape
        return shape

    def _placed(self, slots: tuple[tuple[str, int], ...], parameters: Mapping[str, Any]) -> list[Any]:
        return [
            parameters[name][index] if index >= 0 else parameters.get(name, self.fixed.get(name))
            for name, index in slots
        ]

    def record(self, row: tuple[Any, ...]) -> Record:
        if not self.processors:
            return self.make(row)
        values = list(row)
        for n, processor in self.processors:
            values[n] = processor(values[n])
        return self.make(values)


@dataclass(frozen=True, slots=True)
class _Shape:
    """A statement's lists spread for one set of lengths: the SQL, its placeholders' names, their
    bind processors, and for each placeholder the parameter (and the index in its list, or -1)
    its value comes from."""

    text: str
    names: tuple[str, ...]
    binds: Mapping[str, Callable[[Any], Any]]
    slots: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class _Slot:
    name: str
    index: int


def _spreads(compiled: SQLCompiler) -> tuple[str, ...] | None:
    """The parameters whose lists are spread into placeholders, where the SQL depends on their
    lengths alone: not where a value is written into the SQL itself (literal_execute), a list
    holds tuples, or names were escaped."""
    expanding = tuple(name for name, bind in compiled.binds.items() if bind.expanding)
    if not expanding or compiled.literal_execute_params or compiled.escaped_bind_names:
        return None
    if any(compiled.binds[name].type._is_tuple_type for name in expanding):
        return None
    return expanding


MAX_SHAPES: Final = 64  # sets of lengths a statement keeps: a batch's, a board's, one order's
MAX_PLANS: Final = 128  # the statements are built once, at import: a few dozen
_plans: dict[Select[Any], _Plan] = {}  # by the statement object itself


@cache
def _record(fields: tuple[str, ...]) -> Any:
    return namedtuple("Record", fields, rename=True)  # one class per statement's columns
