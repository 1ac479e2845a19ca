"""Our shim against Dojo's published contract in ../shared/dojo: the bodies we accept, the
operations and schemas our /openapi.json describes, and every operation's response bodies."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from server.dojo import openapi
from tests import dojo_contract
from tests.conftest import LiveServer, lay
from tests.factories import collection_order, make_order, payment_event
from tests.test_rest import FLOOR

contract = dojo_contract.load()
pytestmark = pytest.mark.skipif(contract is None, reason=dojo_contract.MISSING)

# Our schema names that are Dojo's, and whether Dojo sends them (request) or reads them (response).
REQUESTS = [
    "CreateOrderRequest",
    "SearchOrdersRequest",
    "OrderItem",
    "OrderSubItem",
    "Modifier",
    "Money",
    "Customer",
    "Discount",
    "TaxLine",
    "Payment",
    "OrderDetails",
    "DineInDetails",
    "CollectionDetails",
    "SearchDineInDetails",
    "Cursor",
    "PaymentWithLockId",
    "CreateOrderLockRequest",
    "ExtendOrderLockRequest",
    "SearchTablesRequest",
]
RESPONSES = [
    "Order",
    "PagedOrdersResponse",
    "EPOSError",
    "ExtendOrderLockResponse",
    "OrderBill",
    "BillSection",
    "BillLine",
    "BillText",
    "BillMerchantName",
    "BillMerchantAddress",
    "BillMerchantPhoneNumber",
    "BillMerchantEmailAddress",
    "BillHorizontalLine",
    "BillTaxNumber",
    "Area",
    "Table",
    "PagedTablesResponse",
]


def dojo_schema(name: str) -> dict[str, Any]:
    assert contract is not None
    schema: dict[str, Any] = contract.spec["components"]["schemas"][name]
    return schema


def ours(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = openapi.document()["components"]["schemas"][name]
    return schema


@pytest.mark.parametrize("body", [make_order(), collection_order(), make_order(payments=[])])
def test_the_orders_tests_send_are_valid_dojo_create_order_requests(body):
    assert contract is not None
    assert contract.request_errors("POST", "/v1/orders", body) == []


def test_the_events_tests_send_are_valid_dojo_events():
    assert contract is not None
    assert contract.event_errors(payment_event("pi_1", "Captured")) == []


@pytest.mark.parametrize("name", REQUESTS)
def test_we_accept_every_field_dojo_may_send_and_require_exactly_what_dojo_requires(name):
    theirs, mine = dojo_schema(name), ours(name)
    assert set(theirs.get("properties", {})) <= set(mine.get("properties", {}))
    assert set(mine.get("required", [])) == set(theirs.get("required", []))


@pytest.mark.parametrize("name", RESPONSES)
def test_we_render_only_fields_dojo_knows_and_every_field_dojo_requires(name):
    theirs, mine = dojo_schema(name), ours(name)
    assert set(mine.get("properties", {})) <= set(theirs.get("properties", {}))
    assert set(theirs.get("required", [])) <= set(mine.get("required", []))


def test_every_operation_we_describe_is_one_of_dojos():
    assert contract is not None
    for path, item in openapi.document()["paths"].items():
        for method in item.keys() - {"parameters"}:
            if path == "/v1/events":  # HandleEvent: described in the AsyncAPI file, not the REST one
                continue
            assert method in contract.spec["paths"][path], (method, path)


async def test_every_operation_answers_bodies_that_match_dojos_schemas(
    dojo: httpx.AsyncClient, live_server: LiveServer
):
    """The `dojo` client checks each response against Dojo's schemas; this walks every operation,
    its success and its errors, so each body shape is checked at least once."""
    created = (await dojo.post("/v1/orders", json=make_order())).json()
    await dojo.post("/v1/orders", json=collection_order())
    await dojo.post("/v1/orders", json={"not": "an order"})
    await dojo.get(f"/v1/orders/{created['id']}")
    await dojo.get("/v1/orders/ord_missing")
    first = (await dojo.post("/v1/orders/search", json={"cursor": {"limit": 1}})).json()
    await dojo.post("/v1/orders/search", json={"cursor": {"limit": 1, "after": first["after"]}})
    await dojo.post("/v1/orders/search", json={"cursor": {"limit": 500}})
    await dojo.post("/v1/events", json=payment_event(created["payments"][0]["paymentIntentId"], "Captured"))
    await dojo.delete(f"/v1/orders/{created['id']}")
    await dojo.delete("/v1/orders/ord_missing")
    await lay(live_server.settings, FLOOR)
    await dojo.get("/v1/areas")
    first_tables = (await dojo.post("/v1/tables/search", json={"cursor": {"limit": 1}})).json()
    await dojo.post(
        "/v1/tables/search", json={"waiterId": "becky", "cursor": {"after": first_tables["after"]}}
    )
    await dojo.post("/v1/tables/search", json={"cursor": {"limit": 500}})


def test_the_one_documented_exception_to_dojos_rest_schemas_is_searchtables_one_paged_object():
    """NOTES.md: SearchTables' REST 200 is published as an array of PagedTablesResponse, but is
    one paged object. The checker takes that, and only that: its array, or another call's
    object where an array is published, is still a violation."""
    assert contract is not None
    page = {"data": [{"id": "t1", "name": "Table 1", "areaId": "a", "waiterIds": []}], "after": "c"}
    assert contract.response_errors("POST", "/v1/tables/search", 200, page) == []
    assert contract.response_errors("POST", "/v1/tables/search", 200, [page]) != []
    assert contract.response_errors("POST", "/v1/tables/search", 200, {"data": [{"id": "t1"}]}) != []
    assert contract.response_errors("GET", "/v1/areas", 200, {"data": []}) != []
    assert contract.response_errors("POST", "/v1/orders/search", 200, [page]) != []
