"""The floor Dojo's Pay at Table browses: the venue's areas and the tables in them, as data with
no I/O.

An area (`downstairs`, `terrace`) holds tables. A table's name is unique within its area and is
what the card machine shows; its id is what an order's `dineIn.tableId` names it by. Both list
the waiters who serve them. `FloorPlan` checks a whole floor the way `Routing` checks the
stations: every id, name, count and reference, before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from server.errors import Conflict, InvalidRequest, NotFound
from server.money import Money
from server.orders.model import Order

# Ids as Dojo's examples spell them (`area_1234`, `tbl_12345`), and as orders already name tables
# ("5"): ASCII letters, digits, `_` and `-`, so one is safe in a path, a log line and a TOML key.
FLOOR_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
MAX_NAME: Final = 60  # a card machine shows the table's name
MAX_COVERS: Final = 100
MAX_WAITER_ID: Final = 100
MAX_WAITERS: Final = 50  # per area or table
MAX_AREAS: Final = 50  # ListAreas is not paged
MAX_TABLES: Final = 500


@dataclass(frozen=True, slots=True)
class Area:
    id: str
    name: str
    waiter_ids: tuple[str, ...] = ()
    position: int = 0  # its place on screens and in ListAreas: lower comes first


@dataclass(frozen=True, slots=True)
class Table:
    id: str
    name: str  # unique within its area
    area_id: str
    max_covers: int | None = None
    waiter_ids: tuple[str, ...] = ()
    position: int = 0  # its place on screens: lower comes first


@dataclass(frozen=True, slots=True)
class Place:
    """Where an order is served, as a kitchen ticket names it."""

    table: str
    area: str


@dataclass(frozen=True, slots=True)
class FloorPlan:
    """Every area and table, checked together: what `venue load` writes and `venue show` prints."""

    areas: tuple[Area, ...] = ()
    tables: tuple[Table, ...] = ()

    def __post_init__(self) -> None:
        check_areas(self.areas)
        check_tables(self.tables, areas={area.id for area in self.areas})

    @property
    def empty(self) -> bool:
        return not self.areas and not self.tables

    def area(self, area_id: str) -> Area:
        found = next((area for area in self.areas if area.id == area_id), None)
        if found is None:
            raise NotFound(f"no area {area_id!r}")
        return found

    def table(self, table_id: str) -> Table:
        found = next((table for table in self.tables if table.id == table_id), None)
        if found is None:
            raise NotFound(f"no table {table_id!r}")
        return found

    def in_screen_order(self) -> FloorPlan:
        """Areas by position; tables by their area's position, then their own."""
        rank = {area.id: (area.position, area.id) for area in self.areas}
        return FloorPlan(
            tuple(sorted(self.areas, key=lambda a: (a.position, a.id))),
            tuple(sorted(self.tables, key=lambda t: (rank[t.area_id], t.position, t.id))),
        )


def check_areas(areas: Sequence[Area]) -> None:
    if len(areas) > MAX_AREAS:
        raise InvalidRequest(f"a venue has at most {MAX_AREAS} areas; got {len(areas)}", field="id")
    _check_ids("area", [area.id for area in areas])
    for area in areas:
        _check_name(area.name, what=f"area {area.id}")
        check_waiters(area.waiter_ids)


def check_tables(tables: Sequence[Table], *, areas: Iterable[str]) -> None:
    if len(tables) > MAX_TABLES:
        raise InvalidRequest(f"a venue has at most {MAX_TABLES} tables; got {len(tables)}", field="id")
    _check_ids("table", [table.id for table in tables])
    known, named = set(areas), set()
    for table in tables:
        _check_name(table.name, what=f"table {table.id}")
        if table.area_id not in known:
            raise InvalidRequest(
                f"table {table.id} is in area {table.area_id!r}: no such area", field="areaId"
            )
        if (table.area_id, table.name) in named:
            raise InvalidRequest(
                f"two tables in area {table.area_id} are named {table.name!r}: a card machine could "
                "not tell them apart",
                field="name",
            )
        named.add((table.area_id, table.name))
        covers = table.max_covers
        if covers is not None and (type(covers) is not int or not 1 <= covers <= MAX_COVERS):
            raise InvalidRequest(f"maxCovers is a whole number from 1 to {MAX_COVERS}", field="maxCovers")
        check_waiters(table.waiter_ids)


def check_waiters(waiter_ids: Sequence[str]) -> None:
    if len(waiter_ids) > MAX_WAITERS:
        raise InvalidRequest(f"at most {MAX_WAITERS} waiters serve one area or table", field="waiterIds")
    if any(not waiter.strip() or len(waiter) > MAX_WAITER_ID for waiter in waiter_ids):
        raise InvalidRequest(f"a waiter id is 1 to {MAX_WAITER_ID} characters", field="waiterIds")
    if len(set(waiter_ids)) != len(waiter_ids):
        raise InvalidRequest("a waiter is listed twice", field="waiterIds")


def _check_ids(kind: str, ids: Sequence[str]) -> None:
    bad = [found for found in ids if not FLOOR_ID.fullmatch(found)]
    if bad:
        raise InvalidRequest(
            f"{kind} ids are up to 64 ASCII letters, digits, _ and -: not {', '.join(map(repr, bad))}",
            field="id",
        )
    if len(set(ids)) != len(ids):
        raise InvalidRequest(f"two {kind}s share an id", field="id")


def _check_name(name: str, *, what: str) -> None:
    if not name.strip() or len(name) > MAX_NAME:
        raise InvalidRequest(f"{what}: a name is 1 to {MAX_NAME} characters", field="name")


# -- a table's open orders ----------------------------------------------------------------------


def due(orders: Iterable[Order]) -> Money | None:
    """What the payable ones still owe (total less paid); None if none is payable. A venue takes
    one currency; orders in two at one table have no single amount due, and say so."""
    payable = [order for order in orders if order.payable]
    currencies = sorted({order.currency for order in payable})
    if not payable:
        return None
    if len(currencies) > 1:
        raise Conflict(f"the table's open orders are in {' and '.join(currencies)}: no one amount is due")
    owed = sum(order.content.total_amount.value - order.paid_amount for order in payable)
    return Money.of(owed, currencies[0])


def open_since(orders: Iterable[Order]) -> datetime | None:
    """When the oldest of them was placed: how long the table has been open."""
    return min((order.created_at for order in orders), default=None)
