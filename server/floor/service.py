"""The service layer for the floor: the areas and tables Dojo's Pay at Table browses (ListAreas,
SearchTables), the kitchen names tickets by, and floor staff see with their open orders.

Anyone who may read may read it; only an admin changes it (GraphQL, or `orderpass venue load`).
Each change checks the whole floor as it would then stand (server/floor/model.py), so a table
never names a missing area and no two tables in an area share a name. Orders are not tied to
tables: one may name a table the floor does not have, and removing a table leaves its orders be.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from server.actors import Actor
from server.clock import Clock
from server.errors import Conflict
from server.floor import rows
from server.floor.model import Area, FloorPlan, Place, Table
from server.paging import DOJO_CURSOR, Page, PageFields, PageRequest, page_of, scope_of
from server.staff.roles import Permission
from server.store import Store

CHANGED: Final = "the floor changed meanwhile; read it again"


@dataclass(frozen=True, slots=True)
class TableFilters:
    """What Dojo's SearchTables asks for: the tables of an area, or that a waiter serves."""

    area_id: str | None = None
    waiter_id: str | None = None


class Floor:
    def __init__(self, *, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    # -- reading --------------------------------------------------------------------------------

    async def plan(self) -> FloorPlan:
        """Every area and table, in screen order."""
        async with self.store.read() as tx:
            return (await rows.plan(tx)).in_screen_order()

    async def areas(self) -> list[Area]:
        """Every area, in screen order: Dojo's ListAreas."""
        async with self.store.read() as tx:
            return await rows.areas(tx)

    async def tables(self, *, area_id: str | None = None) -> list[Table]:
        """The tables of an area (every table, if None), in screen order."""
        tables = (await self.plan()).tables
        return [table for table in tables if area_id is None or table.area_id == area_id]

    async def tables_by_id(self, table_ids: Collection[str]) -> dict[str, Table]:
        """The tables that exist among these ids."""
        async with self.store.read() as tx:
            return {table.id: table for table in await rows.tables(tx, table_ids)}

    async def places(self, table_ids: Collection[str]) -> dict[str, Place]:
        """Each known table's name and its area's, for tickets naming these tables."""
        if not table_ids:
            return {}
        async with self.store.read() as tx:
            return await rows.places(tx, table_ids)

    async def has_tables(self) -> bool:
        async with self.store.read() as tx:
            return await rows.has_tables(tx)

    async def search(
        self,
        filters: TableFilters,
        *,
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
        fields: PageFields = DOJO_CURSOR,
    ) -> Page[Table]:
        """A page of the tables that match, oldest first, paged as SearchOrders is: a walk returns
        every table that matched once, however many are added meanwhile."""
        scope = scope_of("tables", *dataclasses.astuple(filters))
        page = PageRequest.parse(limit=limit, after=after, before=before, scope=scope, fields=fields)
        async with self.store.read() as tx:
            found, more = await rows.search(
                tx,
                area_id=filters.area_id,
                waiter_id=filters.waiter_id,
                after=page.after,
                before=page.before,
                limit=page.limit,
            )
        tables, keys = [table for table, _ in found], [key for _, key in found]
        return page_of(tables, keys, page, more=more, scope=scope)

    # -- changing (admin) -----------------------------------------------------------------------

    async def save_area(self, area: Area, *, by: Actor) -> FloorPlan:
        """Add an area, or rename or reorder one, or change its waiters."""
        by.require(Permission.ADMIN)
        async with self._writing() as tx:
            current = await rows.plan(tx)
            others = tuple(found for found in current.areas if found.id != area.id)
            changed = FloorPlan((*others, area), current.tables)
            await rows.save_area(tx, area, now=self.clock.now())
        return changed.in_screen_order()

    async def remove_area(self, area_id: str, *, by: Actor) -> FloorPlan:
        """Remove an area that holds no tables."""
        by.require(Permission.ADMIN)
        async with self._writing() as tx:
            current = await rows.plan(tx)
            current.area(area_id)
            holding = sum(1 for table in current.tables if table.area_id == area_id)
            if holding:
                raise Conflict(f"area {area_id} still holds {holding} table(s): move or remove them first")
            await rows.remove_area(tx, area_id)
        left = tuple(area for area in current.areas if area.id != area_id)
        return FloorPlan(left, current.tables).in_screen_order()

    async def save_table(self, table: Table, *, by: Actor) -> FloorPlan:
        """Add a table, or rename, move or reorder one, or change its covers or waiters."""
        by.require(Permission.ADMIN)
        async with self._writing() as tx:
            current = await rows.plan(tx)
            others = tuple(found for found in current.tables if found.id != table.id)
            changed = FloorPlan(current.areas, (*others, table))
            await rows.save_table(tx, table, now=self.clock.now())
        return changed.in_screen_order()

    async def remove_table(self, table_id: str, *, by: Actor) -> FloorPlan:
        """Remove a table. Orders that name it keep its id, and tickets show it as `Table <id>`."""
        by.require(Permission.ADMIN)
        async with self._writing() as tx:
            current = await rows.plan(tx)
            current.table(table_id)
            await rows.remove_table(tx, table_id)
        left = tuple(table for table in current.tables if table.id != table_id)
        return FloorPlan(current.areas, left).in_screen_order()

    async def replace_all(self, floor: FloorPlan, *, by: Actor) -> FloorPlan:
        """The floor becomes exactly this one (`orderpass venue load`)."""
        by.require(Permission.ADMIN)
        async with self._writing() as tx:
            await rows.replace_all(tx, floor, now=self.clock.now())
            return (await rows.plan(tx)).in_screen_order()

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction. The checks above read the floor first; on PostgreSQL a concurrent
        change can still slip between, and the store's constraints catch it: a Conflict, not a bug."""
        try:
            async with self.store.write() as tx:
                yield tx
        except IntegrityError as exc:
            raise Conflict(CHANGED) from exc
