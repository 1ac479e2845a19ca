"""The GraphQL schema in-process: `schema.execute` and `schema.subscribe` on the real services."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson
import pytest
import strawberry
from sqlalchemy import event

from schema import MAX_ALIASES, MAX_DEPTH, build_schema
from schema.context import Context
from server.actors import Actor
from server.broker.memory import MemoryBroker
from server.changes.feed import Feed
from server.clock import ManualClock
from server.lifecycle import OrderStatus
from server.orders.service import Orders
from server.payments.cashier import Cashier
from server.services import Services
from server.staff.roles import Role
from tests.conftest import as_staff
from tests.factories import make_draft, payment_event

ORDER_FIELDS = """
  ... on Order { id status version paidAmount { value formatted } payable allowedMoves bumpTo }
  ... on Problem { __typename message }
  ... on InvalidMove { from to allowed }
  ... on InvalidInput { field }
"""
CREATE = f"""mutation($input: CreateOrderInput!, $key: String) {{
  createOrder(input: $input, idempotencyKey: $key) {{ {ORDER_FIELDS} }} }}"""
MOVE = f"""mutation($id: ID!, $to: OrderStatus!, $expected: OrderStatus) {{
  moveOrder(id: $id, to: $to, expected: $expected) {{ {ORDER_FIELDS} }} }}"""
CANCEL = f"""mutation($id: ID!, $reason: String) {{ cancelOrder(id: $id, reason: $reason) {{ {ORDER_FIELDS} }} }}"""
PAY = f"""mutation($id: ID!, $intent: String!, $paid: MoneyInput!, $tips: MoneyInput) {{
  recordPayment(orderId: $id, paymentIntentId: $intent, paidAmount: $paid, tipsAmount: $tips) {{ {ORDER_FIELDS} }} }}"""

ADMIN, KITCHEN, VIEWER = (Actor.staff(role.value, role) for role in Role)


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


@pytest.fixture
def feed(orders: Orders, broker: MemoryBroker) -> Feed:
    """Not started: only the subscription test needs it live (and it would read in the background)."""
    return Feed(orders=orders, broker=broker, poll_seconds=0.2)


@pytest.fixture
def run(schema, services: Services, feed: Feed):
    """Execute a document as someone; returns `data`, failing the test on any GraphQL error."""

    async def execute(document: str, as_: Actor = ADMIN, **variables: Any) -> dict[str, Any]:
        result = await schema.execute(document, variable_values=variables, context_value=context(as_))
        assert result.errors is None, result.errors
        assert result.data is not None
        data: dict[str, Any] = result.data
        return data

    def context(actor: Actor) -> Context:
        return as_staff(dataclasses.replace(services, feed=feed), actor)

    execute.context = context  # type: ignore[attr-defined]
    return execute


def order_input(**overrides: Any) -> dict[str, Any]:
    """A staff order, as a GraphQL client would send it."""
    money = {"value": 1200, "currencyCode": "GBP"}
    body = {
        "details": {"orderType": "DINE_IN", "dineIn": {"tableId": "12"}},
        "items": [
            {
                "name": "Fish & chips",
                "plu": "FC",
                "quantity": 1,
                "amountPerItem": money,
                "note": "allergy: gluten",
                "modifiers": [
                    {
                        "name": "Mushy peas",
                        "plu": "MP",
                        "quantity": 1,
                        "amountPerModifier": {"value": 0, "currencyCode": "GBP"},
                    }
                ],
            }
        ],
        "totalAmount": money,
        "reference": "STAFF-1",
    }
    body.update(overrides)
    return body


async def placed(run: Callable[..., Any], **overrides: Any) -> dict[str, Any]:
    data = await run(CREATE, input=order_input(**overrides))
    return dict(data["createOrder"])


# -- mutations ----------------------------------------------------------------------------------


async def test_create_order_places_a_new_order(run):
    order = await placed(run)
    assert order["status"] == "NEW"
    assert order["payable"] is True
    assert order["bumpTo"] == "ACCEPTED"
    assert "CANCELED" in order["allowedMoves"]


async def test_create_order_with_an_idempotency_key_never_duplicates(run):
    first, again = [
        (await run(CREATE, input=order_input(), key="tablet-7-0001"))["createOrder"] for _ in range(2)
    ]
    assert first["id"] == again["id"]
    other = (await run(CREATE, input=order_input(note="changed"), key="tablet-7-0001"))["createOrder"]
    assert other["__typename"] == "Conflict"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {
                "items": [
                    {
                        "name": "Tea",
                        "plu": "T",
                        "quantity": 0,
                        "amountPerItem": {"value": 1, "currencyCode": "GBP"},
                    }
                ]
            },
            "items.0.quantity",
        ),
        ({"totalAmount": {"value": 1200, "currencyCode": "EUR"}}, None),
        ({"totalAmount": {"value": 1200, "currencyCode": ""}}, "totalAmount.currencyCode"),
    ],
)
async def test_create_order_answers_invalid_input_with_the_field(run, change, field):
    result = (await run(CREATE, input=order_input(**change)))["createOrder"]
    assert result["__typename"] == "InvalidInput"
    assert result["field"] == field
    assert result["message"]


async def test_move_order_refuses_what_the_table_forbids_with_what_it_allows(run):
    order = await placed(run)
    result = (await run(MOVE, id=order["id"], to="READY"))["moveOrder"]
    assert result["__typename"] == "InvalidMove"
    assert (result["from"], result["to"]) == ("NEW", "READY")
    assert result["allowed"] == ["SUBMITTED", "CONFIRMED", "ACCEPTED", "CANCELED", "FAILED"]


async def test_moving_an_unknown_order_is_not_found(run):
    assert (await run(MOVE, id="ord_nope", to="ACCEPTED"))["moveOrder"]["__typename"] == "NotFound"


async def test_of_two_staff_moving_at_once_one_applies_and_the_other_gets_conflict(run):
    order = await placed(run)
    results = await asyncio.gather(
        *(run(MOVE, id=order["id"], to="ACCEPTED", expected="NEW") for _ in range(2))
    )
    kinds = sorted(r["moveOrder"].get("__typename", "Order") for r in results)
    assert kinds == ["Conflict", "Order"]


async def test_a_staff_cancel_of_a_started_order_names_the_token(run, orders: Orders):
    order = await placed(run)
    for status in ("ACCEPTED", "PREPARING"):
        await run(MOVE, id=order["id"], to=status, as_=KITCHEN)
    result = (await run(CANCEL, id=order["id"], reason="out of fish", as_=KITCHEN))["cancelOrder"]
    assert result["status"] == "CANCELED"
    last = (await orders.history(order["id"]))[-1]
    assert (last.actor.name, last.detail) == ("kitchen", {"reason": "out of fish"})


async def test_split_payments_make_an_order_paid_and_are_idempotent(run):
    order = await placed(run)
    half = {"value": 600, "currencyCode": "GBP"}
    first = (await run(PAY, id=order["id"], intent="pi_a", paid=half))["recordPayment"]
    assert (first["paidAmount"]["value"], first["payable"]) == (600, True)
    again = (await run(PAY, id=order["id"], intent="pi_a", paid=half))["recordPayment"]
    assert again["version"] == first["version"]
    second = await run(
        PAY, id=order["id"], intent="pi_b", paid=half, tips={"value": 100, "currencyCode": "GBP"}
    )
    assert (second["recordPayment"]["paidAmount"]["formatted"], second["recordPayment"]["payable"]) == (
        "£12.00",
        False,
    )


async def test_record_payment_refuses_another_currency_and_a_canceled_order(run):
    order = await placed(run)
    wrong = await run(PAY, id=order["id"], intent="pi_x", paid={"value": 1, "currencyCode": "EUR"})
    assert wrong["recordPayment"]["__typename"] == "InvalidInput"
    await run(CANCEL, id=order["id"])
    late = await run(PAY, id=order["id"], intent="pi_y", paid={"value": 1, "currencyCode": "GBP"})
    assert late["recordPayment"]["__typename"] == "Conflict"


@pytest.mark.parametrize(
    ("actor", "allowed"),
    [(ADMIN, {"create", "move", "cancel", "pay"}), (KITCHEN, {"move", "cancel"}), (VIEWER, set())],
)
async def test_roles_are_enforced_on_every_mutation(run, actor, allowed):
    order = await placed(run)
    results = {
        "create": (await run(CREATE, input=order_input(), as_=actor))["createOrder"],
        "move": (await run(MOVE, id=order["id"], to="ACCEPTED", as_=actor))["moveOrder"],
        "pay": (
            await run(PAY, id=order["id"], intent="pi_r", paid={"value": 1, "currencyCode": "GBP"}, as_=actor)
        )["recordPayment"],
        "cancel": (await run(CANCEL, id=order["id"], as_=actor))["cancelOrder"],
    }
    refused = {name for name, result in results.items() if result.get("__typename") == "Forbidden"}
    assert refused == {"create", "move", "cancel", "pay"} - allowed


# -- queries ------------------------------------------------------------------------------------


async def test_order_shows_the_whole_order_with_its_history(run, orders: Orders):
    dojo = await orders.place(make_draft(), by=Actor.dojo({"dojo-requesting-product": "Order&Pay"}))
    query = """query($id: ID!) { order(id: $id) {
        id dojoOrderId reference displayName note status orderType
        dineIn { tableId waiterId } collection { asap }
        items { name quantity note amountPerItem { value currencyCode formatted }
                modifiers { name amountPerModifier { value } } subItems { name modifiers { name } } }
        discounts { name amountTotal { value } amountPercentage } taxLines { id amountTotal { value } }
        serviceCharge { value } totalAmount { value formatted } customer { name emailAddress }
        payments { paymentIntentId paidAmount { value } tipsAmount { value } status source counts }
        paidAmount { value } tipsAmount { value } payable createdAt updatedAt
        history { kind toStatus actor { kind name } requestingProduct }
    } }"""
    order = (await run(query, id=dojo.id))["order"]
    assert order["dojoOrderId"] == dojo.dojo_order_id
    assert order["dineIn"] == {"tableId": "5", "waiterId": "becky"}
    assert order["collection"] is None
    assert order["items"][0]["subItems"][0]["modifiers"] == [{"name": "Salt"}]
    assert order["items"][0]["amountPerItem"]["formatted"] == "£10.90"
    assert order["payments"][0]["counts"] is True
    assert order["payments"][0]["source"] == "ORDER"
    assert order["history"] == [
        {
            "kind": "CREATED",
            "toStatus": "NEW",
            "actor": {"kind": "DOJO", "name": None},
            "requestingProduct": "Order&Pay",
        }
    ]


async def test_an_unknown_order_is_null(run):
    assert (await run('{ order(id: "ord_nope") { id } }'))["order"] is None


async def test_orders_is_a_filtered_connection_with_a_total(run, clock: ManualClock):
    for table in ("1", "1", "2", "1"):
        clock.advance(timedelta(seconds=1))
        await placed(run, details={"orderType": "DINE_IN", "dineIn": {"tableId": table}})
    query = """query($after: String) { orders(filter: {tableId: "1"}, first: 2, after: $after) {
        totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor hasPreviousPage } } }"""
    first = (await run(query))["orders"]
    assert first["totalCount"] == 3
    assert len(first["edges"]) == 2
    assert first["pageInfo"]["hasNextPage"] is True
    second = (await run(query, after=first["pageInfo"]["endCursor"]))["orders"]
    assert len(second["edges"]) == 1
    assert second["pageInfo"] == {
        "hasNextPage": False,
        "endCursor": second["edges"][0]["cursor"],
        "hasPreviousPage": True,
    }


async def test_orders_filters_by_status_type_time_and_text(run, clock: ManualClock):
    started = clock.now()
    fish = await placed(run, reference="FISH-9")
    clock.advance(timedelta(minutes=5))
    await placed(run, reference="PIE-1", details={"orderType": "COLLECTION", "collection": {"asap": True}})
    await run(MOVE, id=fish["id"], to="ACCEPTED")

    async def ids(filter_: str) -> int:
        return int((await run(f"{{ orders(filter: {filter_}) {{ totalCount }} }}"))["orders"]["totalCount"])

    assert await ids("{statuses: [ACCEPTED]}") == 1
    assert await ids("{orderType: COLLECTION}") == 1
    assert await ids('{text: "fish"}') == 1
    assert await ids(f'{{createdAfter: "{(started + timedelta(minutes=1)).isoformat()}"}}') == 1
    assert await ids(f'{{createdBefore: "{(started + timedelta(minutes=1)).isoformat()}"}}') == 1


async def test_a_page_over_the_maximum_is_an_error_with_a_code(schema, run):
    result = await schema.execute("{ orders(first: 500) { totalCount } }", context_value=run.context(ADMIN))
    assert result.errors
    assert result.errors[0].extensions == {"code": "INVALID_INPUT"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("{ orders(first: 500) { totalCount } }", "first: must be between 1 and 100"),
        ("{ orders(first: 0) { totalCount } }", "first: must be between 1 and 100"),
        ('{ orders(after: "%%%") { totalCount } }', "after: not a cursor this server issued"),
        ("{ activeOrders(first: 1001) { id } }", "first: must be between 1 and 1000"),
        ('{ activeOrders(after: "ord_nowhere") { id } }', "after: no order ord_nowhere"),
    ],
)
async def test_a_bad_page_names_the_graphql_argument_not_dojos_cursor(schema, run, query, message):
    result = await schema.execute(query, context_value=run.context(ADMIN))
    assert result.errors
    assert [error.message for error in result.errors] == [message]


async def test_active_orders_are_every_open_order_oldest_first(run, clock: ManualClock):
    ids = []
    for _ in range(3):
        clock.advance(timedelta(seconds=1))
        ids.append((await placed(run))["id"])
    await run(CANCEL, id=ids[1])
    active = await run("{ activeOrders { id } lastSequence }")
    assert [o["id"] for o in active["activeOrders"]] == [ids[0], ids[2]]
    assert active["lastSequence"] == 4


async def test_unmatched_payments_lists_intents_no_order_holds(run, cashier: Cashier):
    from server.payments.model import Event

    event = Event.model_validate_json(orjson.dumps(payment_event("pi_lost", "Captured")))
    await cashier.handle_event(event, by=Actor.dojo({}))
    await cashier.handle_event(event, by=Actor.dojo({}))  # the same event again: one intent still
    found = (await run("{ unmatchedPayments { paymentIntentId status events } }"))["unmatchedPayments"]
    assert found == [{"paymentIntentId": "pi_lost", "status": "CAPTURED", "events": 1}]
    assert await cashier.unmatched_count() == 1  # what /metrics reports, in one COUNT


async def test_kitchen_stats_counts_statuses_and_times_each_stay(run, clock: ManualClock):
    since = clock.now()
    for minutes in (2, 4, 10):
        order = await placed(run)
        await run(MOVE, id=order["id"], to="ACCEPTED")
        clock.advance(timedelta(minutes=minutes))
        await run(MOVE, id=order["id"], to="PREPARING")
    query = f"""{{ kitchenStats(since: "{since.isoformat()}") {{
        ordersByStatus {{ status orders }} timeInStatus {{ status samples medianSeconds p90Seconds }} }} }}"""
    stats = (await run(query))["kitchenStats"]
    assert {"status": "PREPARING", "orders": 3} in stats["ordersByStatus"]
    assert {"status": "ACCEPTED", "samples": 3, "medianSeconds": 240.0, "p90Seconds": 600.0} in stats[
        "timeInStatus"
    ]


async def test_fifty_orders_with_everything_cost_the_same_few_statements_as_five(run, store, orders: Orders):
    for _ in range(50):
        await orders.place(make_draft(), by=ADMIN)
    statements: list[str] = []
    event.listen(store.engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    query = """query($first: Int!) { orders(first: $first) { totalCount edges { node {
        items { modifiers { name } subItems { name modifiers { name } } } discounts { name } taxLines { id }
        payments { status } history { kind actor { name } } allowedMoves } } } }"""
    counted = {}
    for first in (5, 50):
        statements.clear()
        data = await run(query, first=first)
        assert len(data["orders"]["edges"]) == first
        counted[first] = len(statements)
    assert counted[5] == counted[50] <= 12, statements


async def test_the_deepest_real_query_is_allowed_and_deeper_ones_are_refused(schema, run):
    real = (
        "{ orders { edges { node { items { subItems { modifiers { amountPerModifier { value } } } } } } } }"
    )
    assert (await schema.execute(real, context_value=run.context(ADMIN))).errors is None
    deep = (
        "{ __schema { types { "
        + "fields { type { " * (MAX_DEPTH // 2)
        + "name"
        + " } }" * (MAX_DEPTH // 2)
        + " } } }"
    )
    result = await schema.execute(deep, context_value=run.context(ADMIN))
    assert result.errors
    assert "depth" in result.errors[0].message


async def test_too_many_aliases_or_tokens_are_refused(schema, run):
    aliases = "{ " + " ".join(f"x{i}: lastSequence" for i in range(MAX_ALIASES + 1)) + " }"
    assert (await schema.execute(aliases, context_value=run.context(ADMIN))).errors
    fine = "{ " + " ".join(f"x{i}: lastSequence" for i in range(MAX_ALIASES)) + " }"
    assert (await schema.execute(fine, context_value=run.context(ADMIN))).errors is None
    huge = "{ " + " ".join("lastSequence" for _ in range(3000)) + " }"
    assert (await schema.execute(huge, context_value=run.context(ADMIN))).errors


# -- subscriptions ------------------------------------------------------------------------------


async def test_order_changes_replays_since_then_goes_live(schema, run, orders: Orders, feed: Feed):
    await feed.start()
    first = await placed(run)
    since = (await run("{ lastSequence }"))["lastSequence"]
    second = await placed(run)
    document = (
        """subscription($since: Int) { orderChanges(since: $since) { sequence kind order { id status } } }"""
    )
    stream = await schema.subscribe(
        document, variable_values={"since": since}, context_value=run.context(KITCHEN)
    )
    replayed = await asyncio.wait_for(anext(stream), 5)
    await orders.move(first["id"], OrderStatus.ACCEPTED, by=KITCHEN)
    live = await asyncio.wait_for(anext(stream), 5)
    await stream.aclose()
    await feed.stop()
    assert replayed.data["orderChanges"]["order"]["id"] == second["id"]
    assert live.data["orderChanges"] == {
        "sequence": since + 2,
        "kind": "STATUS_CHANGED",
        "order": {"id": first["id"], "status": "ACCEPTED"},
    }


async def test_screens_asking_different_shapes_of_the_same_change_each_get_their_own(schema, run, feed: Feed):
    await feed.start()
    since = (await run("{ lastSequence }"))["lastSequence"]
    brief = "subscription($since: Int) { orderChanges(since: $since) { sequence order { id } } }"
    full = "subscription($s: Int) { orderChanges(since: $s) { kind order { id status reference } } }"
    streams = [
        await schema.subscribe(brief, variable_values={"since": since}, context_value=run.context(KITCHEN)),
        await schema.subscribe(brief, variable_values={"since": since}, context_value=run.context(VIEWER)),
        await schema.subscribe(full, variable_values={"s": since}, context_value=run.context(KITCHEN)),
    ]
    order = await placed(run)
    got = [(await asyncio.wait_for(anext(stream), 5)).data for stream in streams]
    for stream in streams:
        await stream.aclose()
    await feed.stop()
    assert got[0] == got[1] == {"orderChanges": {"sequence": since + 1, "order": {"id": order["id"]}}}
    assert got[2] == {
        "orderChanges": {
            "kind": "CREATED",
            "order": {"id": order["id"], "status": "NEW", "reference": "STAFF-1"},
        }
    }
