"""The shim's own OpenAPI document: exactly the operations it implements, with schemas generated
from the very models that parse the requests, named as Dojo names them."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, Final, Literal

import orjson
from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from server.dojo.contract import CreateOrderRequest, SearchOrdersRequest
from server.lifecycle import OrderStatus
from server.money import Money
from server.order import Content, OrderContent, PaymentIn
from server.payments import Event

RENAMED: Final = {"PaymentIn": "Payment", "OrderResponse": "Order", "PaymentStatus": "PaymentIntentStatus"}
HEADERS: Final = {
    "waiter-id": "The ID of the waiter making the request, if known",
    "dojo-requesting-product": "The dojo product making the request, if known.",
    "device-id": "The ID of the device making the request, if known",
    "device-type": "The device making the request, if known",
}


class OrderResponse(OrderContent):
    model_config = ConfigDict(title="Order")
    id: str
    status: OrderStatus
    created_at: datetime
    updated_at: datetime
    payments: tuple[PaymentIn, ...]
    payable: bool
    paid_amount: Money
    tips_amount: Money


class PagedOrdersResponse(Content):
    model_config = ConfigDict(title="PagedOrdersResponse")
    data: tuple[OrderResponse, ...]
    before: str | None = None
    after: str | None = None


class EPOSError(Content):
    model_config = ConfigDict(title="EPOSError")
    error_type: Literal["NotFound", "UnexpectedError", "InvalidRequest", "Conflict"]
    debug_message: str | None = None
    trace_id: str | None = None


class Empty(BaseModel):
    model_config = ConfigDict(title="Empty", extra="forbid")


def _operation(
    operation_id: str, summary: str, capability: str, *, body: str | None, ok: str, errors: tuple[int, ...]
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "description": f"Capability: `{capability}`",
        "tags": ["Events" if capability.startswith("HandleEvent") else "Orders"],
        "parameters": [
            {
                "in": "header",
                "name": name,
                "required": False,
                "schema": {"type": "string"},
                "description": text,
            }
            for name, text in HEADERS.items()
        ],
        "responses": {
            "200": _json("OK", ok),
            **{str(code): _json("Error", "EPOSError") for code in (401, 500, 503, *errors)},
        },
    }
    if body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    return operation


def _json(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _schemas() -> dict[str, Any]:
    requests: list[type[BaseModel]] = [CreateOrderRequest, SearchOrdersRequest, Event]
    responses: list[type[BaseModel]] = [OrderResponse, PagedOrdersResponse, EPOSError, Empty]
    modes: list[tuple[type[BaseModel], JsonSchemaMode]] = [(model, "validation") for model in requests]
    modes += [(model, "serialization") for model in responses]
    _, top = models_json_schema(
        modes,
        by_alias=True,
        ref_template="#/components/schemas/{model}",
    )
    text = orjson.dumps(top["$defs"]).decode()
    for old, new in RENAMED.items():
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    defs: dict[str, Any] = orjson.loads(text)
    return {RENAMED.get(name, name): schema for name, schema in defs.items()}


ORDER_ID: Final = {"name": "orderId", "in": "path", "required": True, "schema": {"type": "string"}}


@cache
def document() -> dict[str, Any]:
    get = _operation(
        "v1-get-orders-orderId", "Get an order by id", "GetOrderById", body=None, ok="Order", errors=(404,)
    )
    cancel = _operation(
        "v1-delete-orders-orderId",
        "Cancel an order by id",
        "CancelOrderById",
        body=None,
        ok="Order",
        errors=(404, 409),
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "orderpass: EPOS Data API (REST)",
            "version": "1.0",
            "description": "The subset of Dojo's EPOS Data API 1.0 that this orderpass build implements.",
        },
        "security": [{"basic": []}],
        "paths": {
            "/v1/orders": {
                "post": _operation(
                    "v1-post-orders",
                    "Create an order",
                    "CreateOrder",
                    body="CreateOrderRequest",
                    ok="Order",
                    errors=(400, 409, 413),
                ),
            },
            "/v1/orders/search": {
                "post": _operation(
                    "v1-search-orders",
                    "Search orders",
                    "SearchOrders",
                    body="SearchOrdersRequest",
                    ok="PagedOrdersResponse",
                    errors=(400, 413),
                ),
            },
            "/v1/orders/{orderId}": {"parameters": [ORDER_ID], "get": get, "delete": cancel},
            "/v1/events": {
                "post": _operation(
                    "v1-post-events",
                    "Handle a Dojo event",
                    "HandleEvent:payment_intent.status_updated",
                    body="Event",
                    ok="Empty",
                    errors=(400, 413),
                ),
            },
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
        },
    }
