"""One range for money on both doors: 0 to MAX_VALUE minor units, accepted and read back whole
by REST and by GraphQL alike, and anything past it refused by both, saying so."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from schema import build_schema
from server.money import MAX_VALUE
from server.staff.roles import Role
from tests.conftest import LiveServer, dojo_client, mint, place
from tests.factories import item, make_order, money

CREATE = """mutation($input: CreateOrderInput!) { createOrder(input: $input) {
  __typename ... on Order { id totalAmount { value } } ... on Problem { message } } }"""
READ = "query($id: ID!) { order(id: $id) { totalAmount { value formatted } paidAmount { value } } }"
BOARD = "{ activeOrders { id totalAmount { value } } }"


def big_order(value: int) -> dict[str, Any]:
    """An order of one item costing `value` minor units, paid in full."""
    return make_order(
        items=[item("Wine", value)],
        discounts=[],
        taxLines=[],
        serviceChargeAmount=None,
        totalAmount=money(value),
        payments=[{"paymentIntentId": f"pi_{value}", "paidAmount": money(value)}],
    )


def staff_input(value: int) -> dict[str, Any]:
    return {
        "details": {"orderType": "COLLECTION", "collection": {"asap": True}},
        "items": [
            {
                "name": "Wine",
                "plu": "W",
                "quantity": 1,
                "amountPerItem": {"value": value, "currencyCode": "GBP"},
            }
        ],
        "totalAmount": {"value": value, "currencyCode": "GBP"},
    }


@pytest.fixture
async def staff(live_server: LiveServer):
    token = await mint(live_server.settings, Role.ADMIN)
    async with httpx.AsyncClient(
        base_url=live_server.url, headers={"Authorization": f"Bearer {token}"}
    ) as client:

        async def graphql(query: str, **variables: Any) -> dict[str, Any]:
            response = await client.post("/graphql", json={"query": query, "variables": variables})
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        yield graphql


async def test_the_largest_amount_placed_over_rest_reads_back_whole_on_both_doors(live_server, staff):
    order_id = await place(live_server, **big_order(MAX_VALUE))
    async with dojo_client(live_server) as dojo:
        assert (await dojo.get(f"/v1/orders/{order_id}")).json()["totalAmount"]["value"] == MAX_VALUE
    read = await staff(READ, id=order_id)
    assert "errors" not in read, read
    assert read["data"]["order"]["totalAmount"] == {"value": MAX_VALUE, "formatted": "£100,000,000,000.00"}
    assert read["data"]["order"]["paidAmount"] == {"value": MAX_VALUE}
    board = await staff(BOARD)
    assert "errors" not in board, board
    assert board["data"]["activeOrders"][0]["totalAmount"]["value"] == MAX_VALUE


async def test_the_largest_amount_placed_over_graphql_reads_back_whole_on_both_doors(live_server, staff):
    created = (await staff(CREATE, input=staff_input(MAX_VALUE)))["data"]["createOrder"]
    assert created["__typename"] == "Order", created
    assert created["totalAmount"]["value"] == MAX_VALUE
    async with dojo_client(live_server) as dojo:
        response = await dojo.get(f"/v1/orders/{created['id']}")
    assert response.json()["totalAmount"]["value"] == MAX_VALUE


async def test_one_past_the_largest_amount_is_refused_over_rest(live_server):
    async with dojo_client(live_server) as dojo:
        response = await dojo.post("/v1/orders", json=big_order(MAX_VALUE + 1))
    assert response.status_code == 400
    assert str(MAX_VALUE) in response.text


@pytest.mark.parametrize("value", [MAX_VALUE + 1, -1, 2**63, 10.5, "100", True])
async def test_an_amount_out_of_range_is_refused_over_graphql_naming_the_range(staff, value):
    answer = await staff(CREATE, input=staff_input(value))
    assert answer.get("data") is None
    assert answer["errors"]
    assert all(f"0 to {MAX_VALUE}" in error["message"] for error in answer["errors"])


async def test_an_amount_out_of_range_in_the_document_is_refused_naming_the_range(staff):
    document = (
        CREATE.replace("$input: CreateOrderInput!", "")
        .replace(
            "createOrder(input: $input)",
            "createOrder(input: {details: {orderType: COLLECTION, collection: {asap: true}}, items: [], "
            f'totalAmount: {{value: {MAX_VALUE + 1}, currencyCode: "GBP"}}}})',
        )
        .replace("mutation()", "mutation")
    )
    answer = await staff(document)
    assert answer.get("data") is None
    assert f"0 to {MAX_VALUE}" in answer["errors"][0]["message"]


def test_money_is_minor_units_in_the_schema_not_a_32_bit_int():
    sdl = str(build_schema())
    assert "scalar MinorUnits" in sdl
    assert "value: MinorUnits!" in sdl
    assert "value: Int" not in sdl
