"""Dojo's WebSocket contract as read from epos-data-api.asyncapi.yml: the method table found in
the document, and what it lets through and what not."""

from __future__ import annotations

import pytest

from tests import asyncapi_contract

contract = asyncapi_contract.load()
pytestmark = pytest.mark.skipif(contract is None, reason=asyncapi_contract.MISSING)

ORDER_METHODS = [
    "CreateOrderV1",
    "GetOrderByIdV1",
    "CancelOrderByIdV1",
    "SearchOrdersV1",
    "CreateOrderLockV1",
    "DeleteOrderLockV1",
    "ExtendOrderLockV1",
    "GetOrderBillByIdV1",
    "RecordOrderPaymentByIdV1",
    "HandleEventV1",
]
SCHEMAS = "urn:dojo:epos-data-api.asyncapi.yml#/components/schemas"
EXPIRY = "2026-11-27T12:05:00Z"


def test_every_channel_is_a_method_with_its_params_and_result_found():
    assert contract is not None
    assert set(contract.methods) == set(contract.document["channels"])
    assert set(ORDER_METHODS) <= set(contract.methods)
    for method in contract.methods.values():
        assert method.params.endswith("/properties/params")
        assert method.result.endswith("/properties/result")
        assert method.envelope == (f"{SCHEMAS}/JsonrpcResponseV1",)


@pytest.mark.parametrize(
    ("method", "result"),
    [
        ("CreateOrderV1", "OrderResult"),
        ("GetOrderBillByIdV1", "OrderBillResult"),
        ("ExtendOrderLockV1", "EmptyResult"),
        ("HandleEventV1", "EmptyResult"),
        ("SearchOrdersV1", "PagedOrdersResult"),
    ],
)
def test_a_methods_result_is_the_one_its_channel_names(method, result):
    assert contract is not None
    assert contract.methods[method].result == f"{SCHEMAS}/{result}/properties/result"


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("GetOrderByIdV1", {"orderId": "ord_1", "headers": {}}),
        ("CreateOrderLockV1", {"orderId": "ord_1", "lockId": "lock_1", "expiry": EXPIRY, "headers": {}}),
        ("ExtendOrderLockV1", {"orderId": "ord_1", "lockId": "lock_1", "expiry": EXPIRY, "headers": {}}),
        ("DeleteOrderLockV1", {"orderId": "ord_1", "lockId": "lock_1", "headers": {"waiterId": "w1"}}),
        ("ListAreasV1", {"headers": {}}),
    ],
)
def test_params_carry_the_path_values_and_the_requestor_headers(method, params):
    assert contract is not None
    assert contract.params_errors(method, params) == []
    assert contract.params_errors(method, {k: v for k, v in params.items() if k != "headers"}) == [
        "<root>: 'headers' is a required property"
    ]


def test_params_are_checked_down_to_their_formats():
    assert contract is not None
    params = {"orderId": "ord_1", "lockId": "lock_1", "expiry": "in five minutes", "headers": {}}

    assert contract.params_errors("CreateOrderLockV1", params) == [
        "expiry: 'in five minutes' is not a 'date-time'"
    ]


def test_an_answer_must_name_its_method_though_the_envelope_does_not_describe_it():
    assert contract is not None
    answer = {"jsonrpc": "2.0", "id": "1", "result": {}}

    assert contract.answer_errors("ExtendOrderLockV1", answer) == ["<root>: 'method' is a required property"]
    assert contract.answer_errors("ExtendOrderLockV1", answer | {"method": "ExtendOrderLockV1"}) == []


def test_a_failed_answer_is_held_to_the_envelope_and_needs_no_result():
    assert contract is not None
    failed = {
        "jsonrpc": "2.0",
        "id": "1",
        "method": "CreateOrderV1",
        "error": {"errorType": "InvalidRequest"},
    }

    assert contract.answer_errors("CreateOrderV1", failed) == []
    assert contract.answer_errors("CreateOrderV1", failed | {"error": {"errorType": "Teapot"}}) == [
        "error/errorType: 'Teapot' is not one of ['NotFound', 'UnexpectedError', 'InvalidRequest', 'Conflict']"
    ]


def test_an_order_over_the_socket_needs_no_id_unlike_over_rest():
    """The AsyncAPI Order requires only `status` and `details`; REST's requires `id` too."""
    assert contract is not None

    assert (
        contract.result_errors(
            "GetOrderByIdV1", {"status": "New", "details": {"orderType": "Collection", "collection": {}}}
        )
        == []
    )


def test_an_answer_to_no_known_method_meets_the_envelope():
    assert contract is not None

    assert contract.answer_errors("NoSuchMethodV1", {"jsonrpc": "2.0", "id": "1", "method": "x"}) == []
    assert contract.answer_errors(None, {"jsonrpc": "2.0", "method": "x"}) == [
        "<root>: 'id' is a required property"
    ]
