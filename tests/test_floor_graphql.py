"""The floor over GraphQL, in-process on the real services: what floor staff read (tables with
their open orders, what is due and how long they have been open), what only an admin changes,
and `Order.table`."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
import strawberry
from sqlalchemy import event

from schema import build_schema
from server.actors import POS, Actor
from server.clock import ManualClock
from server.floor.model import Area, FloorPlan, Table
from server.services import Services
from server.staff.roles import Role
from server.store import Store
from tests.conftest import as_staff
from tests.factories import make_draft, money

ADMIN, KITCHEN, VIEWER = (Actor.staff(role.value, role) for role in Role)
PLAN = FloorPlan(
    (Area("downstairs", "Downstairs", ("becky",), 0), Area("terrace", "Terrace", (), 1)),
    (
        Table("t1", "Window 1", "downstairs", 4, ("becky",), 0),
        Table("t2", "Window 2", "downstairs", None, (), 1),
        Table("t3", "Palm", "terrace", 2, ("sam",), 0),
    ),
)
INTENTS = itertools.count(1)
FLOOR_RESULT = """
  ... on Floor { areas { id name waiterIds } tables { id name areaId maxCovers waiterIds } }
  ... on Problem { __typename message }
  ... on InvalidInput { field }
"""
SAVE_AREA = f"mutation($input: AreaInput!) {{ saveArea(input: $input) {{ {FLOOR_RESULT} }} }}"
REMOVE_AREA = f"mutation($id: String!) {{ removeArea(id: $id) {{ {FLOOR_RESULT} }} }}"
SAVE_TABLE = f"mutation($input: TableInput!) {{ saveTable(input: $input) {{ {FLOOR_RESULT} }} }}"
REMOVE_TABLE = f"mutation($id: String!) {{ removeTable(id: $id) {{ {FLOOR_RESULT} }} }}"
TABLES = """query($area: String) { tables(areaId: $area) {
  id name maxCovers area { id name } openOrders { id } due { value currencyCode formatted }
  openSince openSeconds } }"""


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


@pytest.fixture
def run(schema: strawberry.Schema, services: Services):
    async def execute(document: str, as_: Actor = ADMIN, **variables: Any) -> dict[str, Any]:
        result = await schema.execute(
            document, variable_values=variables, context_value=as_staff(services, as_)
        )
        assert result.errors is None, result.errors
        assert result.data is not None
        data: dict[str, Any] = result.data
        return data

    return execute


@pytest.fixture
async def laid(services: Services) -> FloorPlan:
    return await services.floor.replace_all(PLAN, by=POS)


def at(table: str, *, total: int = 3130, paid: int = 3130, **more: Any) -> Any:
    """A dine-in order for this table, paying `paid` of its `total`."""
    payments = [{"paymentIntentId": f"pi_{table}_{next(INTENTS)}", "paidAmount": money(paid)}] if paid else []
    details = {"orderType": "DineIn", "dineIn": {"tableId": table}}
    return make_draft(details=details, totalAmount=money(total), payments=payments, **more)


async def test_floor_staff_see_each_table_with_what_is_open_and_due_on_it(
    run, services: Services, laid: FloorPlan, clock: ManualClock
):
    orders = services.orders
    first = await orders.place(at("t1", total=3000, paid=1000), by=POS)
    clock.advance(timedelta(minutes=10))
    second = await orders.place(at("t1", total=1500, paid=0), by=POS)
    clock.advance(timedelta(seconds=1))
    third = await orders.place(at("t1", total=900, paid=900), by=POS)  # paid in full: open, owes nothing
    canceled = await orders.place(at("t1", total=700, paid=0), by=POS)
    await orders.cancel(canceled.id, by=POS)
    clock.advance(timedelta(seconds=299))
    tables = (await run(TABLES, as_=VIEWER, area="downstairs"))["tables"]
    assert [t["id"] for t in tables] == ["t1", "t2"]
    t1, t2 = tables
    assert t1["area"] == {"id": "downstairs", "name": "Downstairs"}
    assert [o["id"] for o in t1["openOrders"]] == [first.id, second.id, third.id]  # oldest first
    assert t1["due"] == {"value": 3500, "currencyCode": "GBP", "formatted": "£35.00"}
    assert t1["openSeconds"] == 15 * 60
    assert t1["openSince"].startswith("2026-11-27T12:00:00")
    assert t2 == {
        "id": "t2",
        "name": "Window 2",
        "maxCovers": None,
        "area": {"id": "downstairs", "name": "Downstairs"},
        "openOrders": [],
        "due": None,
        "openSince": None,
        "openSeconds": None,
    }
    everything = await run("{ areas { id waiterIds } tables { id } }", as_=KITCHEN)
    assert everything["areas"] == [
        {"id": "downstairs", "waiterIds": ["becky"]},
        {"id": "terrace", "waiterIds": []},
    ]
    assert [t["id"] for t in everything["tables"]] == ["t1", "t2", "t3"]


async def test_a_table_with_orders_in_two_currencies_has_no_one_amount_due(
    schema, services: Services, laid: FloorPlan
):
    await services.orders.place(at("t3", paid=0), by=POS)
    eur = {"value": 500, "currencyCode": "EUR"}
    euro = make_draft(
        details={"orderType": "DineIn", "dineIn": {"tableId": "t3"}},
        items=[{"name": "Wine", "plu": "W", "quantity": 1, "amountPerItem": eur}],
        discounts=[],
        taxLines=[],
        serviceChargeAmount=None,
        totalAmount=eur,
        payments=[],
    )
    await services.orders.place(euro, by=POS)
    result = await schema.execute(
        '{ tables(areaId: "terrace") { id due { value } } }', context_value=as_staff(services, VIEWER)
    )
    assert result.data == {"tables": [{"id": "t3", "due": None}]}
    (error,) = result.errors or []
    assert "in EUR and GBP: no one amount is due" in error.message


async def test_an_admin_lays_out_the_floor(run):
    saved = (await run(SAVE_AREA, input={"id": "bar", "name": "Bar", "waiterIds": ["sam"]}))["saveArea"]
    assert saved["areas"] == [{"id": "bar", "name": "Bar", "waiterIds": ["sam"]}]
    table = {"id": "b1", "name": "Stool 1", "areaId": "bar", "maxCovers": 1}
    saved = (await run(SAVE_TABLE, input=table))["saveTable"]
    assert saved["tables"] == [{**table, "waiterIds": []}]
    clash = (await run(SAVE_TABLE, input={**table, "id": "b2"}))["saveTable"]
    assert clash["__typename"] == "InvalidInput"
    assert clash["field"] == "name"
    assert (await run(REMOVE_AREA, id="bar"))["removeArea"]["__typename"] == "Conflict"
    assert (await run(REMOVE_TABLE, id="b1"))["removeTable"]["tables"] == []
    assert (await run(REMOVE_AREA, id="bar"))["removeArea"] == {"areas": [], "tables": []}
    assert (await run(REMOVE_AREA, id="bar"))["removeArea"]["__typename"] == "NotFound"
    nowhere = (await run(SAVE_TABLE, input={**table, "areaId": "cellar"}))["saveTable"]
    assert (nowhere["__typename"], nowhere["field"]) == ("InvalidInput", "areaId")


@pytest.mark.parametrize("who", [KITCHEN, VIEWER])
async def test_kitchen_and_viewer_tokens_may_not_change_the_floor(run, laid: FloorPlan, who: Actor):
    for document, variables in (
        (SAVE_AREA, {"input": {"id": "bar", "name": "Bar"}}),
        (REMOVE_AREA, {"id": "terrace"}),
        (SAVE_TABLE, {"input": {"id": "t9", "name": "T9", "areaId": "terrace"}}),
        (REMOVE_TABLE, {"id": "t1"}),
    ):
        answer = next(iter((await run(document, as_=who, **variables)).values()))
        assert answer["__typename"] == "Forbidden", (document, answer)
    assert (await run("{ tables { id } }", as_=who))["tables"] == [{"id": "t1"}, {"id": "t2"}, {"id": "t3"}]


async def test_an_order_names_its_table_where_the_floor_knows_it(run, services: Services, laid: FloorPlan):
    known = await services.orders.place(at("t3"), by=POS)
    unknown = await services.orders.place(at("99"), by=POS)  # accepted, as ever
    query = """query($id: ID!) { order(id: $id) { dineIn { tableId } table { id name area { name } } } }"""
    assert (await run(query, id=known.id))["order"] == {
        "dineIn": {"tableId": "t3"},
        "table": {"id": "t3", "name": "Palm", "area": {"name": "Terrace"}},
    }
    assert (await run(query, id=unknown.id))["order"] == {"dineIn": {"tableId": "99"}, "table": None}


async def test_a_board_of_orders_reads_their_tables_once(
    run, services: Services, laid: FloorPlan, store: Store
):
    for n in range(12):
        await services.orders.place(at(("t1", "t2", "t3", "5")[n % 4]), by=POS)
    statements: list[str] = []
    event.listen(store.engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    data = await run(
        "{ orders(first: 20) { edges { node { table { name area { name } openOrders { id } } } } } }"
    )
    assert len(data["orders"]["edges"]) == 12
    floor_reads = [s for s in statements if "floor_tables" in s]
    order_reads = [s for s in statements if "FROM orders" in s]
    assert len(floor_reads) == 1, floor_reads  # every order's table at once, with their waiters
    assert len([s for s in statements if "FROM areas" in s]) == 1
    assert len(order_reads) == 4, order_reads  # the page's ids and orders; every table's open ones likewise
