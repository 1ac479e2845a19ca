"""The floor over GraphQL: the venue's areas and tables, each table with its open orders, what is
still due on them and how long it has been open (floor staff); an admin changes the floor; and
the table an order's `dineIn.tableId` names (`Order.table`). The open orders of a page of tables,
and the tables of a page of orders, are read once for the page (schema/context.py)."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated

import strawberry

from schema import order_types
from schema.context import Info
from schema.errors import Conflict, Forbidden, InvalidInput, InvalidMove, NotFound, outcome
from schema.scalars import MinorUnits
from server import errors
from server.floor import model
from server.floor.model import FloorPlan


@strawberry.type(name="Area", description="A part of the venue (downstairs, the terrace) that holds tables.")
class AreaNode:
    id: str = strawberry.field(description="Its id: ASCII letters, digits, `_` and `-` (`downstairs`).")
    name: str = strawberry.field(description="Its name, for people.")
    waiter_ids: list[str] = strawberry.field(description="The waiters who serve it, as Dojo names them.")
    position: int = strawberry.field(description="Its place on screens: lower comes first.")


@strawberry.type(
    name="Table",
    description="A table of the venue, as Dojo's Pay at Table finds it, with what is open on it now.",
)
class TableNode:
    id: str = strawberry.field(description="Its id: what an order's `dineIn.tableId` names it by.")
    name: str = strawberry.field(description="Its name, unique within its area; the card machine shows it.")
    max_covers: int | None = strawberry.field(description="How many it seats, if it says.")
    area_id: str = strawberry.field(description="The id of the area it is in.")
    waiter_ids: list[str] = strawberry.field(description="The waiters who serve it, as Dojo names them.")
    position: int = strawberry.field(description="Its place on screens within its area: lower comes first.")

    @strawberry.field(description="The area it is in.")
    async def area(self, info: Info) -> AreaNode:
        found = await info.context.areas.load(self.area_id)
        if found is None:  # removed since the table was read
            raise errors.NotFound(f"no area {self.area_id}")
        return area_node(found)

    @strawberry.field(description="Its orders that are not Finalized, Canceled or Failed, oldest first.")
    async def open_orders(self, info: Info) -> list[order_types.OrderNode]:
        return [order_types.order(order) for order in await info.context.open_orders.load(self.id)]

    @strawberry.field(
        description="What its payable open orders still owe: their totals less what was paid, tips "
        "aside. Null when none is payable."
    )
    async def due(self, info: Info) -> order_types.Money | None:
        owed = model.due(await info.context.open_orders.load(self.id))
        if owed is None:
            return None
        return order_types.Money(value=MinorUnits(owed.value), currency_code=owed.currency_code)

    @strawberry.field(description="When its oldest open order was placed; null when none is open.")
    async def open_since(self, info: Info) -> datetime | None:
        return model.open_since(await info.context.open_orders.load(self.id))

    @strawberry.field(
        description="How long it has been open, in whole seconds since its oldest open order was "
        "placed (by the server's clock); null when none is open."
    )
    async def open_seconds(self, info: Info) -> int | None:
        since = model.open_since(await info.context.open_orders.load(self.id))
        if since is None:
            return None
        return max(int((info.context.services.clock.now() - since).total_seconds()), 0)


@strawberry.type(description="The venue's areas and tables, as they now stand, in screen order.")
class Floor:
    areas: list[AreaNode] = strawberry.field(description="Every area.")
    tables: list[TableNode] = strawberry.field(description="Every table, area by area.")


FloorResult = Annotated[
    Floor | NotFound | Conflict | InvalidInput | Forbidden,
    strawberry.union("FloorResult", description="The floor as it now is, or why not."),
]


@strawberry.input(description="An area to add, or an existing one (by id) as it should now be.")
class AreaInput:
    id: str = strawberry.field(description="Up to 64 ASCII letters, digits, `_` and `-`: `downstairs`.")
    name: str = strawberry.field(description=f"Its name, for people: 1 to {model.MAX_NAME} characters.")
    waiter_ids: list[str] = strawberry.field(
        default_factory=list, description=f"The waiters who serve it (at most {model.MAX_WAITERS})."
    )
    position: int = strawberry.field(default=0, description="Its place on screens: lower comes first.")


@strawberry.input(description="A table to add, or an existing one (by id) as it should now be.")
class TableInput:
    id: str = strawberry.field(
        description="Up to 64 ASCII letters, digits, `_` and `-`: what orders' `dineIn.tableId` name it by."
    )
    name: str = strawberry.field(
        description=f"Its name, unique within its area, 1 to {model.MAX_NAME} characters: `Table 12`."
    )
    area_id: str = strawberry.field(description="The id of the area it is in.")
    max_covers: int | None = strawberry.field(
        default=None, description=f"How many it seats: 1 to {model.MAX_COVERS}; null if it does not say."
    )
    waiter_ids: list[str] = strawberry.field(
        default_factory=list, description=f"The waiters who serve it (at most {model.MAX_WAITERS})."
    )
    position: int = strawberry.field(
        default=0, description="Its place on screens within its area: lower comes first."
    )


AreaId = Annotated[str, strawberry.argument(description="The area's id.")]
TableId = Annotated[str, strawberry.argument(description="The table's id.")]


@strawberry.type
class FloorQuery:
    @strawberry.field(description="The venue's areas, in screen order.")
    async def areas(self, info: Info) -> list[AreaNode]:
        return [area_node(area) for area in await info.context.services.floor.areas()]

    @strawberry.field(
        description="The tables of an area, or every table, in screen order: each with its open "
        "orders, what is due on them and how long it has been open."
    )
    async def tables(
        self,
        info: Info,
        area_id: Annotated[
            str | None, strawberry.argument(description="Only this area's tables; every table if null.")
        ] = None,
    ) -> list[TableNode]:
        return [table_node(table) for table in await info.context.services.floor.tables(area_id=area_id)]


@strawberry.type
class FloorMutation:
    @strawberry.mutation(description="Add an area, or rename or reorder one, or change its waiters (admin).")
    async def save_area(
        self,
        info: Info,
        input: Annotated[AreaInput, strawberry.argument(description="The area as it should be.")],
    ) -> FloorResult:
        area = model.Area(input.id, input.name, tuple(input.waiter_ids), input.position)
        return await _floor(info.context.services.floor.save_area(area, by=info.context.staff))

    @strawberry.mutation(description="Remove an area (admin): one that holds no tables.")
    async def remove_area(self, info: Info, id: AreaId) -> FloorResult:
        return await _floor(info.context.services.floor.remove_area(id, by=info.context.staff))

    @strawberry.mutation(
        description="Add a table, or rename, move or reorder one, or change its covers or waiters "
        "(admin). Its place in Dojo's SearchTables never changes."
    )
    async def save_table(
        self,
        info: Info,
        input: Annotated[TableInput, strawberry.argument(description="The table as it should be.")],
    ) -> FloorResult:
        table = model.Table(
            input.id, input.name, input.area_id, input.max_covers, tuple(input.waiter_ids), input.position
        )
        return await _floor(info.context.services.floor.save_table(table, by=info.context.staff))

    @strawberry.mutation(
        description="Remove a table (admin). Orders that name it keep its id; tickets show `Table <id>`."
    )
    async def remove_table(self, info: Info, id: TableId) -> FloorResult:
        return await _floor(info.context.services.floor.remove_table(id, by=info.context.staff))


def area_node(area: model.Area) -> AreaNode:
    return AreaNode(id=area.id, name=area.name, waiter_ids=list(area.waiter_ids), position=area.position)


def table_node(table: model.Table) -> TableNode:
    return TableNode(
        id=table.id,
        name=table.name,
        max_covers=table.max_covers,
        area_id=table.area_id,
        waiter_ids=list(table.waiter_ids),
        position=table.position,
    )


async def _floor(call: Awaitable[FloorPlan]) -> FloorResult:
    result = await outcome(call)
    assert not isinstance(result, InvalidMove), "the floor changes no order's status"
    if isinstance(result, FloorPlan):
        return Floor(
            areas=[area_node(a) for a in result.areas], tables=[table_node(t) for t in result.tables]
        )
    return result
