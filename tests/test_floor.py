"""The floor's service on a real store: areas and tables, their checks, who may change them, and
SearchTables' filters and paging."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from server.actors import POS, Actor
from server.clock import ManualClock
from server.errors import Conflict, Forbidden, InvalidRequest, NotFound
from server.floor.model import MAX_COVERS, Area, FloorPlan, Place, Table, due, open_since
from server.floor.service import Floor, TableFilters
from server.lifecycle import OrderStatus
from server.money import Money
from server.orders.filters import SearchFilters
from server.orders.service import Orders
from server.payments.model import Payment, PaymentSource
from server.services import Services
from server.staff.roles import Role
from tests.factories import an_order, make_draft

ADMIN = Actor.staff("manager", Role.ADMIN)
PLAN = FloorPlan(
    (Area("downstairs", "Downstairs", ("becky",), 0), Area("terrace", "Terrace", (), 1)),
    (
        Table("t1", "Table 1", "downstairs", 4, ("becky",), 0),
        Table("t2", "Table 2", "downstairs", 2, ("becky", "sam"), 1),
        Table("t3", "Table 3", "terrace", None, ("sam",), 0),
    ),
)


@pytest.fixture
def floor(services: Services) -> Floor:
    return services.floor


@pytest.fixture
async def laid(floor: Floor) -> FloorPlan:
    return await floor.replace_all(PLAN, by=POS)


async def test_a_new_venue_has_no_floor(floor: Floor):
    assert await floor.plan() == FloorPlan()
    assert not await floor.has_tables()
    assert await floor.areas() == []


async def test_a_loaded_floor_reads_back_in_screen_order(floor: Floor, laid: FloorPlan):
    assert laid == PLAN
    assert await floor.plan() == PLAN
    assert await floor.has_tables()
    assert [area.id for area in await floor.areas()] == ["downstairs", "terrace"]
    assert [table.id for table in await floor.tables(area_id="downstairs")] == ["t1", "t2"]
    assert await floor.tables_by_id(["t3", "nope"]) == {"t3": PLAN.tables[2]}
    assert await floor.places(["t1", "5"]) == {"t1": Place("Table 1", "Downstairs")}


@pytest.mark.parametrize("role", [Role.KITCHEN, Role.VIEWER])
async def test_only_an_admin_changes_the_floor(floor: Floor, laid: FloorPlan, role: Role):
    staff = Actor.staff("someone", role)
    for change in (
        floor.save_area(Area("bar", "Bar"), by=staff),
        floor.remove_area("terrace", by=staff),
        floor.save_table(Table("t9", "Table 9", "terrace"), by=staff),
        floor.remove_table("t1", by=staff),
        floor.replace_all(FloorPlan(), by=staff),
    ):
        with pytest.raises(Forbidden):
            await change
    assert await floor.plan() == PLAN


async def test_an_admin_adds_renames_and_moves_tables(floor: Floor, laid: FloorPlan):
    await floor.save_area(Area("bar", "Bar", position=2), by=ADMIN)
    moved = await floor.save_table(Table("t3", "Stool 1", "bar", 1), by=ADMIN)
    assert moved.table("t3") == Table("t3", "Stool 1", "bar", 1)
    added = await floor.save_table(Table("t4", "Table 3", "terrace", 6), by=ADMIN)  # the name is free again
    assert [t.id for t in added.tables] == ["t1", "t2", "t4", "t3"]  # area by area
    assert (await floor.plan()) == added


@pytest.mark.parametrize(
    ("table", "error", "field"),
    [
        (Table("t9", "Table 1", "downstairs"), "two tables in area downstairs are named 'Table 1'", "name"),
        (Table("t9", "Table 9", "cellar"), "no such area", "areaId"),
        (Table("t 9", "Table 9", "terrace"), "table ids are up to 64", "id"),
        (Table("t9", "", "terrace"), "a name is 1 to 60 characters", "name"),
        (Table("t9", "x" * 61, "terrace"), "a name is 1 to 60 characters", "name"),
        (Table("t9", "Table 9", "terrace", 0), "maxCovers", "maxCovers"),
        (Table("t9", "Table 9", "terrace", MAX_COVERS + 1), "maxCovers", "maxCovers"),
        (Table("t9", "Table 9", "terrace", waiter_ids=("x",) * 51), "at most 50 waiters", "waiterIds"),
        (Table("t9", "Table 9", "terrace", waiter_ids=("",)), "a waiter id is 1 to", "waiterIds"),
    ],
)
async def test_a_table_that_breaks_a_rule_is_refused_and_nothing_changes(
    floor: Floor, laid: FloorPlan, table: Table, error: str, field: str
):
    with pytest.raises(InvalidRequest) as refused:
        await floor.save_table(table, by=ADMIN)
    assert error in refused.value.message
    assert refused.value.field == field
    assert await floor.plan() == PLAN


async def test_an_area_is_removed_only_once_it_holds_no_tables(floor: Floor, laid: FloorPlan):
    with pytest.raises(Conflict, match="still holds 1 table"):
        await floor.remove_area("terrace", by=ADMIN)
    await floor.remove_table("t3", by=ADMIN)
    after = await floor.remove_area("terrace", by=ADMIN)
    assert [area.id for area in after.areas] == ["downstairs"]
    with pytest.raises(NotFound):
        await floor.remove_area("terrace", by=ADMIN)
    with pytest.raises(NotFound):
        await floor.remove_table("t3", by=ADMIN)


async def test_a_load_may_swap_names_and_move_tables_and_keeps_their_place_in_a_walk(
    floor: Floor, laid: FloorPlan, clock: ManualClock
):
    before = await floor.search(TableFilters(), limit=1)
    clock.advance(timedelta(minutes=1))
    swapped = FloorPlan(
        PLAN.areas,
        (
            Table("t1", "Table 2", "downstairs", None, (), 0),
            Table("t2", "Table 1", "downstairs", 2, (), 1),
            Table("t3", "Table 1", "terrace", None, (), 0),
            Table("t5", "Table 5", "terrace", None, (), 1),
        ),
    )
    assert await floor.replace_all(swapped, by=POS) == swapped
    rest = await floor.search(TableFilters(), after=before.after)
    assert [table.id for table in rest.items] == ["t2", "t3", "t5"]  # t1, t2, t3 kept their keys


async def test_search_filters_by_area_and_by_waiter(floor: Floor, laid: FloorPlan):
    async def found(**filters: str) -> list[str]:
        return [table.id for table in (await floor.search(TableFilters(**filters))).items]

    assert await found() == ["t1", "t2", "t3"]
    assert await found(area_id="downstairs") == ["t1", "t2"]
    assert await found(waiter_id="sam") == ["t2", "t3"]
    assert await found(area_id="downstairs", waiter_id="sam") == ["t2"]
    assert await found(area_id="cellar") == []
    assert await found(waiter_id="becky") == ["t1", "t2"]  # the tables that list her, not her area's


async def test_a_walk_returns_every_table_once_while_tables_are_added(
    floor: Floor, laid: FloorPlan, clock: ManualClock
):
    seen: list[str] = []
    page = await floor.search(TableFilters(), limit=2)
    added = 0
    while True:
        seen += [table.id for table in page.items]
        if page.after is None:
            break
        added += 1
        clock.advance(timedelta(seconds=1))
        await floor.save_table(Table(f"new{added}", f"New {added}", "terrace"), by=ADMIN)
        page = await floor.search(TableFilters(), limit=2, after=page.after)
    assert len(seen) == len(set(seen))
    assert seen[:3] == ["t1", "t2", "t3"]
    assert set(seen) <= {"t1", "t2", "t3", *(f"new{n}" for n in range(1, added + 1))}
    assert page.before is not None
    back = await floor.search(TableFilters(), limit=2, before=page.before)
    assert [t.id for t in back.items] == seen[-2 - len(page.items) : -len(page.items)]


async def test_a_cursor_pages_only_the_search_it_came_from(floor: Floor, laid: FloorPlan, orders: Orders):
    page = await floor.search(TableFilters(area_id="downstairs"), limit=1)
    assert page.after is not None
    with pytest.raises(InvalidRequest, match="belongs to a different search") as refused:
        await floor.search(TableFilters(area_id="terrace"), after=page.after)
    assert refused.value.field == "cursor.after"
    await orders.place(make_draft(), by=POS)
    orders_page = await orders.search(SearchFilters(), limit=1)
    with pytest.raises(InvalidRequest, match="different search"):
        await floor.search(TableFilters(), after=orders_page.cursors[0])
    with pytest.raises(InvalidRequest, match="mutually exclusive"):
        await floor.search(TableFilters(), after=page.after, before=page.after)
    with pytest.raises(InvalidRequest, match=r"cursor\.limit"):
        await floor.search(TableFilters(), limit=101)


async def test_a_tables_open_orders_come_oldest_first_and_leave_when_finished(
    services: Services, laid: FloorPlan, clock: ManualClock
):
    orders = services.orders
    at_t1 = {"orderType": "DineIn", "dineIn": {"tableId": "t1"}}
    first = await orders.place(make_draft(details=at_t1), by=POS)
    clock.advance(timedelta(minutes=5))
    second = await orders.place(make_draft(details=at_t1), by=POS)
    await orders.place(make_draft(), by=POS)  # table 5: not on the floor
    found = await orders.open_at_tables(["t1", "t2"])
    assert [o.id for o in found["t1"]] == [first.id, second.id]
    assert found["t2"] == []
    await orders.cancel(first.id, by=POS)
    assert [o.id for o in (await orders.open_at_tables(["t1"]))["t1"]] == [second.id]


def test_due_sums_what_payable_orders_still_owe():
    paid = Payment("pi_1", 1000, 0, PaymentSource.ORDER)
    orders = [
        an_order(total=3000, payments=(paid,)),  # owes 2000
        an_order(total=500),  # owes 500
        an_order(total=700, status=OrderStatus.CANCELED),  # owes nothing: not payable
    ]
    assert due(orders) == Money.of(2500, "GBP")
    assert due([an_order(total=1000, payments=(dataclasses.replace(paid, paid_amount=1000),))]) is None
    assert due([]) is None
    assert open_since([]) is None
    assert open_since(orders) == orders[0].created_at
