"""The Dojo EPOS Data REST shim: parse, call the service layer once, render.

Every error leaves through `error_response` as an `EPOSError` with the right status, and
everything under /v1 sits behind Dojo's HTTP Basic credentials.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from server.actors import Actor
from server.dojo import contract
from server.dojo.bill import Merchant, order_bill
from server.errors import InvalidRequest, OrderpassError, PayloadTooLarge, Unauthorized, Unavailable, invalid
from server.orders.filters import SearchFilters
from server.orders.service import Orders
from server.payments.cashier import Cashier
from server.payments.model import Event
from server.text import NUL_REFUSED, holds_nul, shown

log = logging.getLogger("orderpass.dojo")
M = TypeVar("M", bound=BaseModel)


def mount(*, username: str, password: str) -> Mount:
    """Dojo's routes under /v1, as an app of their own: behind Basic auth, and with every error
    (ours, and Starlette's own 404/405) answered as Dojo's EPOSError, here and nowhere else."""
    routes = [Route(op.path, op.endpoint, methods=[op.method]) for op in OPERATIONS]
    guard = Middleware(BasicAuth, username=username, password=password)
    handlers = {OrderpassError: error_response, HTTPException: error_response, Exception: _bug}
    return Mount("/v1", app=Starlette(routes=routes, middleware=[guard], exception_handlers=handlers))


# -- endpoints ----------------------------------------------------------------------------------


async def create_order(request: Request) -> Response:
    draft = await parse(request, contract.CreateOrderRequest)
    order = await orders(request).place(draft, by=Actor.dojo(request.headers))
    return render(contract.order(order))


async def get_order(request: Request) -> Response:
    order = await orders(request).get(request.path_params["order_id"])
    return render(contract.order(order))


async def cancel_order(request: Request) -> Response:
    order = await orders(request).cancel(request.path_params["order_id"], by=Actor.dojo(request.headers))
    return render(contract.order(order))


async def search_orders(request: Request) -> Response:
    query = await parse(request, contract.SearchOrdersRequest)
    dine_in, cursor = query.dine_in or contract.SearchDineInDetails(), query.cursor or contract.Cursor()
    filters = SearchFilters(**dine_in.model_dump(), payable_only=bool(query.payable_only))
    page = await orders(request).search(filters, limit=cursor.limit, after=cursor.after, before=cursor.before)
    return render(contract.paged_orders(page))


async def handle_event(request: Request) -> Response:
    event = await parse(request, Event)
    outcome = await cashier(request).handle_event(event, by=Actor.dojo(request.headers))
    log.info("Dojo event %s (%s): %s", shown(event.id), shown(event.event), outcome.value)
    return render({})


async def record_payment(request: Request) -> Response:
    payment = await parse(request, contract.PaymentWithLockId)
    order = await cashier(request).record_payment(
        request.path_params["order_id"],
        payment_intent_id=payment.payment_intent_id,
        paid_amount=payment.paid_amount,
        tips_amount=payment.tips_amount,
        lock_id=payment.lock_id,
        by=Actor.dojo(request.headers),
    )
    return render(contract.order(order))


async def create_lock(request: Request) -> Response:
    lock = await parse(request, contract.CreateOrderLockRequest)
    order = await cashier(request).lock(
        request.path_params["order_id"],
        lock_id=lock.lock_id,
        expiry=lock.expiry,
        by=Actor.dojo(request.headers),
    )
    return render(contract.order(order))


async def extend_lock(request: Request) -> Response:
    extension = await parse(request, contract.ExtendOrderLockRequest)
    params = request.path_params
    await cashier(request).extend(
        params["order_id"], lock_id=params["lock_id"], expiry=extension.expiry, by=Actor.dojo(request.headers)
    )
    return render({})  # Dojo's ExtendOrderLockResponse is an empty object


async def delete_lock(request: Request) -> Response:
    params = request.path_params
    order = await cashier(request).unlock(
        params["order_id"], lock_id=params["lock_id"], by=Actor.dojo(request.headers)
    )
    return render(contract.order(order))


async def get_bill(request: Request) -> Response:
    order = await orders(request).get(request.path_params["order_id"])
    settings = request.state.services.settings
    printed = order_bill(
        order,
        merchant=Merchant.from_settings(settings),
        printed_at=orders(request).clock.now(),
        timezone=ZoneInfo(settings.timezone),
    )
    return render(printed)


@dataclass(frozen=True, slots=True)
class Operation:
    capabilities: tuple[str, ...]  # the names Dojo routes by (the API's CapabilityName)
    method: str
    path: str
    endpoint: Callable[[Request], Awaitable[Response]]
    operation_id: str  # as in Dojo's description
    summary: str
    body: str | None  # the request schema, by Dojo's name
    answer: str  # the 200 response schema
    errors: tuple[int, ...]


# What this build implements, in one table: the routes, the capabilities `orderpass dojo
# register` sends, and the operations /openapi.json describes.
OPERATIONS: Final = (
    Operation(
        ("CreateOrder",),
        "POST",
        "/orders",
        create_order,
        "v1-post-orders",
        "Create an order",
        "CreateOrderRequest",
        "Order",
        (400, 409, 413),
    ),
    Operation(
        ("SearchOrders",),
        "POST",
        "/orders/search",
        search_orders,
        "v1-search-orders",
        "Search orders",
        "SearchOrdersRequest",
        "PagedOrdersResponse",
        (400, 413),
    ),
    Operation(
        ("GetOrderById",),
        "GET",
        "/orders/{order_id}",
        get_order,
        "v1-get-orders-orderId",
        "Get an order by id",
        None,
        "Order",
        (404,),
    ),
    Operation(
        ("CancelOrderById",),
        "DELETE",
        "/orders/{order_id}",
        cancel_order,
        "v1-delete-orders-orderId",
        "Cancel an order by id",
        None,
        "Order",
        (404, 409),
    ),
    Operation(
        ("RecordOrderPayment",),
        "POST",
        "/orders/{order_id}/record-payment",
        record_payment,
        "v1-post-record-order-payment",
        "Record a payment against an order",
        "PaymentWithLockId",
        "Order",
        (400, 404, 409, 413),
    ),
    Operation(
        ("CreateOrderLock",),
        "POST",
        "/orders/{order_id}/lock",
        create_lock,
        "v1-post-order-lock",
        "Lock an order while Dojo takes payment",
        "CreateOrderLockRequest",
        "Order",
        (400, 404, 409, 413),
    ),
    Operation(
        ("ExtendOrderLock",),
        "PUT",
        "/orders/{order_id}/locks/{lock_id}",
        extend_lock,
        "v1-put-extend-order-lock",
        "Extend Dojo's lock on an order",
        "ExtendOrderLockRequest",
        "ExtendOrderLockResponse",
        (400, 404, 409, 413),
    ),
    Operation(
        ("DeleteOrderLock",),
        "DELETE",
        "/orders/{order_id}/locks/{lock_id}",
        delete_lock,
        "v1-delete-order-lock",
        "Release Dojo's lock on an order",
        None,
        "Order",
        (404, 409),
    ),
    Operation(
        ("GetOrderBill",),
        "GET",
        "/orders/{order_id}/bill",
        get_bill,
        "v1-get-orders-bill",
        "The order as a terminal prints it",
        None,
        "OrderBill",
        (404,),
    ),
    Operation(
        ("HandleEvent:payment_intent.created", "HandleEvent:payment_intent.status_updated"),
        "POST",
        "/events",
        handle_event,
        "v1-post-events",
        "Handle a Dojo event",
        "Event",
        "Empty",
        (400, 413),
    ),
)
CAPABILITY_VERSION: Final = "1.0.0"  # the version Dojo's own examples register these names with


def capabilities() -> list[tuple[str, str]]:
    return [(name, CAPABILITY_VERSION) for op in OPERATIONS for name in op.capabilities]


# -- plumbing -----------------------------------------------------------------------------------


def orders(request: Request) -> Orders:
    service: Orders = request.state.services.orders
    return service


def cashier(request: Request) -> Cashier:
    service: Cashier = request.state.services.cashier
    return service


async def parse(request: Request, model: type[M]) -> M:
    body = await read_body(request, limit=request.state.services.settings.max_body_bytes)
    if holds_nul(body):
        raise InvalidRequest(NUL_REFUSED)
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise invalid(exc) from None


async def read_body(request: Request, *, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes is over the {limit}-byte limit")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def render(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(contract.dumps(body), status_code=status, headers=headers, media_type="application/json")


class BasicAuth:
    """HTTP Basic against the one configured pair, compared in constant time."""

    def __init__(self, app: ASGIApp, *, username: str, password: str) -> None:
        self.app = app
        self.expected = (username.encode(), password.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.authorized(scope):
            refused = Unauthorized("missing or wrong Dojo credentials")
            await (await error_response(Request(scope), refused))(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def authorized(self, scope: Scope) -> bool:
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, encoded = header.partition(b" ")
        try:
            username, _, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
        except (binascii.Error, ValueError):
            username = password = b""
        same_user = hmac.compare_digest(username, self.expected[0])
        same_password = hmac.compare_digest(password, self.expected[1])
        return scheme.lower() == b"basic" and same_user and same_password


# -- errors -------------------------------------------------------------------------------------


async def error_response(request: Request, exc: Exception) -> Response:
    """The one translation of our error tree (and Starlette's own 404/405) into `EPOSError`."""
    trace = request.scope.get("state", {}).get("trace_id", "-")
    if isinstance(exc, HTTPException):
        error_type = "NotFound" if exc.status_code == 404 else "InvalidRequest"
        return render(contract.eposerror(error_type, str(exc.detail), trace), exc.status_code)
    assert isinstance(exc, OrderpassError)
    status, error_type = contract.status_of(exc)
    headers = {}
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = 'Basic realm="orderpass", charset="UTF-8"'
    if isinstance(exc, Unavailable):
        headers["Retry-After"] = str(exc.retry_after_seconds)
        log.warning("%s %s: %s", status, error_type, exc.message)
    else:
        log.info("%s %s: %s", status, error_type, exc.message)  # a client error: one line, no traceback
    return render(contract.eposerror(error_type, exc.message, trace), status, headers)


async def _bug(request: Request, exc: Exception) -> Response:
    """A bug's 500 as an EPOSError without its stack trace (the middleware logs it, with the traceback)."""
    trace = request.scope.get("state", {}).get("trace_id", "-")
    return render(contract.eposerror("UnexpectedError", contract.UNEXPECTED, trace), 500)


async def unexpected(trace: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    body = contract.dumps(contract.eposerror("UnexpectedError", contract.UNEXPECTED, trace))
    return 500, [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())], body
