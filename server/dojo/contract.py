"""Dojo's JSON shapes (EPOS Data API 1.0): the requests we parse and the bodies we render.

The order's content already wears Dojo's names (server/orders/model.py); this module adds what is
Dojo's alone: which request fields are required, the rendered `Order` with its computed
amounts, the paged search responses, the floor's `Area` and `Table`, and the `EPOSError` body.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from pydantic import ConfigDict, Field

from server.clock import UtcDatetime, iso
from server.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    OrderpassError,
    PayloadTooLarge,
    Unauthorized,
    Unavailable,
)
from server.floor import model as floor
from server.orders.model import Content, Omittable, Order, OrderDraft, PaymentIn
from server.paging import MAX_LIMIT, Page


class CreateOrderRequest(OrderDraft):
    model_config = ConfigDict(title="CreateOrderRequest")
    dojo_order_id: str = Field(min_length=1, max_length=200, description="The Dojo API order ID")
    payments: tuple[PaymentIn, ...]


class PaymentWithLockId(PaymentIn):
    model_config = ConfigDict(title="PaymentWithLockId")
    lock_id: Omittable[str] = None


class CreateOrderLockRequest(Content):
    model_config = ConfigDict(title="CreateOrderLockRequest")
    lock_id: str = Field(min_length=1)
    expiry: UtcDatetime


class ExtendOrderLockRequest(Content):
    model_config = ConfigDict(title="ExtendOrderLockRequest")
    expiry: UtcDatetime


class SearchDineInDetails(Content):
    model_config = ConfigDict(title="SearchDineInDetails")
    table_id: Omittable[str] = None
    waiter_id: Omittable[str] = None
    party_id: Omittable[str] = None
    reservation_id: Omittable[str] = None


class Cursor(Content):
    model_config = ConfigDict(title="Cursor")
    limit: Omittable[int] = Field(default=None, ge=1, le=MAX_LIMIT)
    before: Omittable[str] = None
    after: Omittable[str] = None


class SearchOrdersRequest(Content):
    model_config = ConfigDict(title="SearchOrdersRequest")
    dine_in: Omittable[SearchDineInDetails] = None
    payable_only: Omittable[bool] = None
    cursor: Omittable[Cursor] = None


class SearchTablesRequest(Content):
    model_config = ConfigDict(title="SearchTablesRequest")
    cursor: Omittable[Cursor] = None
    area_id: Omittable[str] = None
    waiter_id: Omittable[str] = None


class AreaResponse(Content):
    model_config = ConfigDict(title="Area")
    id: str
    name: str
    waiter_ids: tuple[str, ...]


class TableResponse(Content):
    model_config = ConfigDict(title="Table")
    id: str
    name: str
    max_covers: int | None = None  # left out, never null, when the table does not say
    area_id: str
    waiter_ids: tuple[str, ...]


class PagedTablesResponse(Content):
    model_config = ConfigDict(title="PagedTablesResponse")
    data: tuple[TableResponse, ...]
    before: str | None = None
    after: str | None = None


# -- rendering ----------------------------------------------------------------------------------


def money(value: int, currency: str) -> dict[str, Any]:
    return {"value": value, "currencyCode": currency}


def order(order: Order) -> orjson.Fragment:
    """Dojo's `Order`, as JSON ready to go into an answer, a page or a bill. `payments` lists the
    payments that count, so that `paidAmount` and `tipsAmount` are exactly their sums (Dojo's
    Payment has no status to show a refund by).

    The content (items, details, amounts...) is its own JSON (`Order.content_json`: pydantic's,
    or the one an order just placed was fingerprinted by), spliced between the fields around
    it: its dict first, then orjson of the dict, was a tenth of CreateOrder's time on the event
    loop (bench.profile)."""
    currency, counted = order.currency, order.counted_payments
    head = orjson.dumps({"id": order.id, "status": order.status.value})
    content = order.content_json()
    tail = orjson.dumps(
        {
            "createdAt": iso(order.created_at),
            "updatedAt": iso(order.updated_at),
            "payments": [
                {
                    "paymentIntentId": p.payment_intent_id,
                    "paidAmount": money(p.paid_amount, currency),
                    "tipsAmount": money(p.tips_amount, currency),
                }
                for p in counted
            ],
            "paidAmount": money(order.paid_amount, currency),
            "tipsAmount": money(order.tips_amount, currency),
            "payable": order.payable,
        }
    )
    # three objects made one: `{head` + `,` + content's fields + `,` + `tail}` (each has fields)
    return orjson.Fragment(b"".join((head[:-1], b",", content[1:-1], b",", tail[1:])))


def paged_orders(page: Page[Order]) -> dict[str, Any]:
    body: dict[str, Any] = {"data": [order(o) for o in page.items]}
    if page.before:
        body["before"] = page.before
    if page.after:
        body["after"] = page.after
    return body


def areas(found: list[floor.Area]) -> list[dict[str, Any]]:
    """Dojo's ListAreas answer: an array of `Area`."""
    return [_body(AreaResponse(id=a.id, name=a.name, waiter_ids=a.waiter_ids)) for a in found]


def paged_tables(page: Page[floor.Table]) -> dict[str, Any]:
    """One `PagedTablesResponse`, as every other search and the WebSocket's SearchTablesV1 answer.
    The REST description's 200 for SearchTables is an array of them; Dojo's notes say to answer
    one paged object (../shared/dojo/NOTES.md, "Areas and tables"), and we do."""
    data = tuple(_table(found) for found in page.items)
    return _body(PagedTablesResponse(data=data, before=page.before, after=page.after))


def _table(found: floor.Table) -> TableResponse:
    return TableResponse(
        id=found.id,
        name=found.name,
        max_covers=found.max_covers,
        area_id=found.area_id,
        waiter_ids=found.waiter_ids,
    )


def _body(model: Content) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def dumps(body: Any) -> bytes:
    return orjson.dumps(body)


# -- errors -------------------------------------------------------------------------------------

# (HTTP status, EPOSErrorType) for each branch of the error tree; the most specific class wins.
ERRORS: Final[tuple[tuple[type[OrderpassError], int, str], ...]] = (
    (PayloadTooLarge, 413, "InvalidRequest"),
    (InvalidRequest, 400, "InvalidRequest"),
    (Unauthorized, 401, "InvalidRequest"),
    (Forbidden, 403, "InvalidRequest"),
    (NotFound, 404, "NotFound"),
    (Conflict, 409, "Conflict"),
    (Unavailable, 503, "UnexpectedError"),
)


def status_of(exc: OrderpassError) -> tuple[int, str]:
    for kind, status, error_type in ERRORS:
        if isinstance(exc, kind):
            return status, error_type
    return 500, "UnexpectedError"


def eposerror(error_type: str, message: str, trace_id: str) -> dict[str, str]:
    return {"errorType": error_type, "debugMessage": message, "traceId": trace_id}


UNEXPECTED: Final = "an unexpected error occurred; quote the traceId when reporting it"
