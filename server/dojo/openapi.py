"""The shim's own OpenAPI document: exactly the operations it implements, with schemas generated
from the very models that parse the requests, named as Dojo names them."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, Final, Literal

import orjson
from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from server.dojo.contract import (
    AreaResponse,
    CreateOrderLockRequest,
    CreateOrderRequest,
    ExtendOrderLockRequest,
    PagedTablesResponse,
    PaymentWithLockId,
    SearchOrdersRequest,
    SearchTablesRequest,
)
from server.dojo.operations import OPERATIONS, Operation
from server.lifecycle import OrderStatus
from server.money import Money
from server.orders.model import Content, OrderContent, PaymentIn
from server.payments.model import Event

RENAMED: Final = {
    "PaymentIn": "Payment",
    "OrderResponse": "Order",
    "PaymentStatus": "PaymentIntentStatus",
    "AreaResponse": "Area",
    "TableResponse": "Table",
}
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


class ExtendOrderLockResponse(BaseModel):
    model_config = ConfigDict(title="ExtendOrderLockResponse", extra="forbid")


class BillText(Content):
    model_config = ConfigDict(title="BillText")
    value: str
    size: Literal["Body", "Header1", "Header2"]
    align: Literal["Center", "Left", "Right"] | None = None
    bold: bool | None = None


class BillMerchantName(Content):
    model_config = ConfigDict(title="BillMerchantName")
    name: str


class BillMerchantAddress(Content):
    model_config = ConfigDict(title="BillMerchantAddress")
    address_lines: tuple[str, ...]
    postcode: str


class BillMerchantPhoneNumber(Content):
    model_config = ConfigDict(title="BillMerchantPhoneNumber")
    phone_number: str


class BillMerchantEmailAddress(Content):
    model_config = ConfigDict(title="BillMerchantEmailAddress")
    email_address: str


class BillHorizontalLine(Content):
    model_config = ConfigDict(title="BillHorizontalLine")
    line: Literal["Single", "Double"] | None = None


class BillTaxNumber(Content):
    model_config = ConfigDict(title="BillTaxNumber")
    name: str
    number: str


class BillLine(Content):
    model_config = ConfigDict(title="BillLine")
    line_type: Literal[
        "MerchantName",
        "MerchantAddress",
        "MerchantPhoneNumber",
        "MerchantEmailAddress",
        "Text",
        "HorizontalLine",
        "TaxNumber",
    ]
    merchant_name: BillMerchantName | None = None
    merchant_address: BillMerchantAddress | None = None
    merchant_phone_number: BillMerchantPhoneNumber | None = None
    merchant_email_address: BillMerchantEmailAddress | None = None
    text: BillText | None = None
    horizontal_line: BillHorizontalLine | None = None
    tax_number: BillTaxNumber | None = None


class BillSection(Content):
    model_config = ConfigDict(title="BillSection")
    lines: tuple[BillLine, ...]


class OrderBill(Content):
    model_config = ConfigDict(title="OrderBill")
    header: BillSection
    order: OrderResponse
    footer: BillSection


class _DojoSchema(GenerateJsonSchema):
    """An optional field's schema is its type alone: it is left out, never null
    (server/orders/model.Omittable), so it shows no `"default": null` either."""

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        found = super().default_schema(schema)
        if schema.get("default", ...) is None:
            found.pop("default", None)
        return found


def _operation(op: Operation) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "description": "Capability: " + ", ".join(f"`{name}`" for name in op.capabilities),
        "tags": [op.path.split("/")[1].capitalize()],  # Orders, Areas, Tables, Events: Dojo's tags
        "parameters": [
            {
                "in": "header",
                "name": name,
                "required": False,
                "schema": {"type": "string"},
                "description": text,
            }
            for name, text in HEADERS.items()
        ]
        + [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _path_params(op)
        ],
        "responses": {
            "200": _json("OK", op.answer),
            **{str(code): _json("Error", "EPOSError") for code in sorted({401, 500, 503, *op.errors})},
        },
    }
    if op.body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(op.body)}},
        }
    return operation


def _dojo_path(op: Operation) -> str:
    return "/v1" + op.path  # the table already spells paths as Dojo does: /orders/{orderId}


def _path_params(op: Operation) -> list[str]:
    return list(op.path_names)


def _json(description: str, schema: str) -> dict[str, Any]:
    """A JSON body of the named schema, or (`Area[]`) an array of them."""
    body: dict[str, Any] = _ref(schema)
    if schema.endswith("[]"):
        body = {"type": "array", "items": _ref(schema.removesuffix("[]"))}
    return {"description": description, "content": {"application/json": {"schema": body}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _schemas() -> dict[str, Any]:
    requests: list[type[BaseModel]] = [
        CreateOrderRequest,
        SearchOrdersRequest,
        Event,
        PaymentWithLockId,
        CreateOrderLockRequest,
        ExtendOrderLockRequest,
        SearchTablesRequest,
    ]
    responses: list[type[BaseModel]] = [
        OrderResponse,
        PagedOrdersResponse,
        EPOSError,
        Empty,
        ExtendOrderLockResponse,
        OrderBill,
        AreaResponse,
        PagedTablesResponse,
    ]
    modes: list[tuple[type[BaseModel], JsonSchemaMode]] = [(model, "validation") for model in requests]
    modes += [(model, "serialization") for model in responses]
    _, top = models_json_schema(
        modes,
        by_alias=True,
        ref_template="#/components/schemas/{model}",
        schema_generator=_DojoSchema,
    )
    text = orjson.dumps(top["$defs"]).decode()
    for old, new in RENAMED.items():
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    defs: dict[str, Any] = orjson.loads(text)
    return {RENAMED.get(name, name): schema for name, schema in defs.items()}


@cache
def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(_dojo_path(op), {})[op.http.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "orderpass: EPOS Data API (REST)",
            "version": "1.0",
            "description": "The subset of Dojo's EPOS Data API 1.0 that this orderpass build implements.",
        },
        "security": [{"basic": []}],
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
        },
    }
