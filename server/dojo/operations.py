"""Every EPOS Data capability orderpass implements, in one table that both of Dojo's doors are
built from: the REST routes under /v1 (server/dojo/rest.py), the JSON-RPC methods over the socket
orderpass dials out (server/dojo/socket.py), `/openapi.json` and registration. A capability added
here appears on both doors, or on neither.

Each handler takes a `Call` (the body, the path values, who is asking, as either door parsed
them) and returns Dojo's JSON, or raises from the error tree; each door renders the one or the
other in its own way. A handler parses with Dojo's pydantic models, makes one service call and
renders: the rules live in the services.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from server.actors import Actor
from server.dojo import contract
from server.dojo.bill import Merchant, order_bill
from server.errors import InvalidRequest, invalid
from server.floor.service import TableFilters
from server.orders.filters import SearchFilters
from server.payments.model import Event
from server.text import NUL_REFUSED, has_nul, holds_nul, shown

log = logging.getLogger("orderpass.dojo")

if TYPE_CHECKING:  # the services build the Dojo client, so at run time this would be a cycle
    from server.services import Services

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Call:
    """One call from Dojo, whichever door it came through."""

    services: Services
    actor: Actor  # Dojo, with its requestor headers
    path: Mapping[str, str] = field(default_factory=dict)  # Dojo's names: orderId, lockId
    body: bytes = b"{}"  # the JSON body (REST's as sent; the socket's params, less headers and path)

    def parsed(self, model: type[M]) -> M:
        """The body as Dojo's model; the same validation, and the same error, on both doors."""
        if holds_nul(self.body):
            raise InvalidRequest(NUL_REFUSED)
        try:
            return model.model_validate_json(self.body)
        except ValidationError as exc:
            raise invalid(exc) from None

    def value(self, name: str) -> str:
        found = self.path.get(name)
        if not isinstance(found, str) or not found:
            raise InvalidRequest(f"{name}: a non-empty string is required", field=name)
        if has_nul(found):
            raise InvalidRequest(NUL_REFUSED, field=name)
        return found


Handler = Callable[[Call], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Operation:
    capabilities: tuple[str, ...]  # the names Dojo routes by (the API's CapabilityName)
    method: str  # the JSON-RPC method over the socket: CreateOrderV1, ...
    http: str  # the REST method
    path: str  # the REST path under /v1, with Dojo's names: /orders/{orderId}
    handler: Handler
    operation_id: str  # as in Dojo's REST description
    summary: str
    body: str | None  # the request schema, by Dojo's name
    answer: str  # the 200 response schema (`Area[]`: an array of them)
    errors: tuple[int, ...]
    # Registered only while the venue has a table: Dojo would otherwise route Pay at Table's
    # browsing here and show an empty floor.
    needs_tables: bool = False

    @property
    def path_names(self) -> tuple[str, ...]:
        """The path's values (orderId, lockId): in the REST path, or among the socket's params."""
        return tuple(part[1:-1] for part in self.path.split("/") if part.startswith("{"))


# -- the handlers ---------------------------------------------------------------------------------


async def create_order(call: Call) -> object:
    order = await call.services.orders.place(call.parsed(contract.CreateOrderRequest), by=call.actor)
    return contract.order(order)


async def get_order(call: Call) -> object:
    return contract.order(await call.services.orders.get(call.value("orderId")))


async def cancel_order(call: Call) -> object:
    return contract.order(await call.services.orders.cancel(call.value("orderId"), by=call.actor))


async def search_orders(call: Call) -> object:
    query = call.parsed(contract.SearchOrdersRequest)
    dine_in, cursor = query.dine_in or contract.SearchDineInDetails(), query.cursor or contract.Cursor()
    filters = SearchFilters(**dine_in.model_dump(), payable_only=bool(query.payable_only))
    page = await call.services.orders.search(
        filters, limit=cursor.limit, after=cursor.after, before=cursor.before
    )
    return contract.paged_orders(page)


async def list_areas(call: Call) -> object:
    return contract.areas(await call.services.floor.areas())


async def search_tables(call: Call) -> object:
    query = call.parsed(contract.SearchTablesRequest)
    cursor = query.cursor or contract.Cursor()
    filters = TableFilters(area_id=query.area_id, waiter_id=query.waiter_id)
    page = await call.services.floor.search(
        filters, limit=cursor.limit, after=cursor.after, before=cursor.before
    )
    # One paged object on both doors, though Dojo's REST description shows an array for this
    # call's 200: see contract.paged_tables.
    return contract.paged_tables(page)


async def handle_event(call: Call) -> object:
    event = call.parsed(Event)
    outcome = await call.services.cashier.handle_event(event, by=call.actor)
    log.info("Dojo event %s (%s): %s", shown(event.id), shown(event.event), outcome.value)
    return {}


async def record_payment(call: Call) -> object:
    payment = call.parsed(contract.PaymentWithLockId)
    order = await call.services.cashier.record_payment(
        call.value("orderId"),
        payment_intent_id=payment.payment_intent_id,
        paid_amount=payment.paid_amount,
        tips_amount=payment.tips_amount,
        lock_id=payment.lock_id,
        by=call.actor,
    )
    return contract.order(order)


async def create_lock(call: Call) -> object:
    lock = call.parsed(contract.CreateOrderLockRequest)
    order = await call.services.cashier.lock(
        call.value("orderId"), lock_id=lock.lock_id, expiry=lock.expiry, by=call.actor
    )
    return contract.order(order)


async def extend_lock(call: Call) -> object:
    extension = call.parsed(contract.ExtendOrderLockRequest)
    await call.services.cashier.extend(
        call.value("orderId"), lock_id=call.value("lockId"), expiry=extension.expiry, by=call.actor
    )
    return {}  # Dojo's ExtendOrderLockResponse is an empty object


async def delete_lock(call: Call) -> object:
    order = await call.services.cashier.unlock(
        call.value("orderId"), lock_id=call.value("lockId"), by=call.actor
    )
    return contract.order(order)


async def get_bill(call: Call) -> object:
    services = call.services
    order = await services.orders.get(call.value("orderId"))
    settings = services.settings
    dine_in = order.content.details.dine_in
    table_id = dine_in.table_id if dine_in else None
    places = await services.floor.places([table_id] if table_id else [])
    return order_bill(
        order,
        merchant=Merchant.from_settings(settings),
        printed_at=services.clock.now(),
        timezone=ZoneInfo(settings.timezone),
        place=places.get(table_id) if table_id else None,
    )


# What this build implements: the one table.
OPERATIONS: Final = (
    Operation(
        capabilities=("CreateOrder",),
        method="CreateOrderV1",
        http="POST",
        path="/orders",
        handler=create_order,
        operation_id="v1-post-orders",
        summary="Create an order",
        body="CreateOrderRequest",
        answer="Order",
        errors=(400, 409, 413),
    ),
    Operation(
        capabilities=("SearchOrders",),
        method="SearchOrdersV1",
        http="POST",
        path="/orders/search",
        handler=search_orders,
        operation_id="v1-search-orders",
        summary="Search orders",
        body="SearchOrdersRequest",
        answer="PagedOrdersResponse",
        errors=(400, 413),
    ),
    Operation(
        capabilities=("GetOrderById",),
        method="GetOrderByIdV1",
        http="GET",
        path="/orders/{orderId}",
        handler=get_order,
        operation_id="v1-get-orders-orderId",
        summary="Get an order by id",
        body=None,
        answer="Order",
        errors=(404,),
    ),
    Operation(
        capabilities=("CancelOrderById",),
        method="CancelOrderByIdV1",
        http="DELETE",
        path="/orders/{orderId}",
        handler=cancel_order,
        operation_id="v1-delete-orders-orderId",
        summary="Cancel an order by id",
        body=None,
        answer="Order",
        errors=(404, 409),
    ),
    Operation(
        capabilities=("RecordOrderPayment",),
        method="RecordOrderPaymentByIdV1",
        http="POST",
        path="/orders/{orderId}/record-payment",
        handler=record_payment,
        operation_id="v1-post-record-order-payment",
        summary="Record a payment against an order",
        body="PaymentWithLockId",
        answer="Order",
        errors=(400, 404, 409, 413),
    ),
    Operation(
        capabilities=("CreateOrderLock",),
        method="CreateOrderLockV1",
        http="POST",
        path="/orders/{orderId}/lock",
        handler=create_lock,
        operation_id="v1-post-order-lock",
        summary="Lock an order while Dojo takes payment",
        body="CreateOrderLockRequest",
        answer="Order",
        errors=(400, 404, 409, 413),
    ),
    Operation(
        capabilities=("ExtendOrderLock",),
        method="ExtendOrderLockV1",
        http="PUT",
        path="/orders/{orderId}/locks/{lockId}",
        handler=extend_lock,
        operation_id="v1-put-extend-order-lock",
        summary="Extend Dojo's lock on an order",
        body="ExtendOrderLockRequest",
        answer="ExtendOrderLockResponse",
        errors=(400, 404, 409, 413),
    ),
    Operation(
        capabilities=("DeleteOrderLock",),
        method="DeleteOrderLockV1",
        http="DELETE",
        path="/orders/{orderId}/locks/{lockId}",
        handler=delete_lock,
        operation_id="v1-delete-order-lock",
        summary="Release Dojo's lock on an order",
        body=None,
        answer="Order",
        errors=(404, 409),
    ),
    Operation(
        capabilities=("GetOrderBill",),
        method="GetOrderBillByIdV1",
        http="GET",
        path="/orders/{orderId}/bill",
        handler=get_bill,
        operation_id="v1-get-orders-bill",
        summary="The order as a terminal prints it",
        body=None,
        answer="OrderBill",
        errors=(404,),
    ),
    Operation(
        capabilities=("ListAreas",),
        method="ListAreasV1",
        http="GET",
        path="/areas",
        handler=list_areas,
        operation_id="v1-list-areas",
        summary="List areas",
        body=None,
        answer="Area[]",
        errors=(),
        needs_tables=True,
    ),
    Operation(
        capabilities=("SearchTables",),
        method="SearchTablesV1",
        http="POST",
        path="/tables/search",
        handler=search_tables,
        operation_id="v1-search-tables",
        summary="Search tables",
        body="SearchTablesRequest",
        answer="PagedTablesResponse",  # one object; Dojo's REST description says an array (NOTES.md)
        errors=(400, 413),
        needs_tables=True,
    ),
    Operation(
        capabilities=("HandleEvent:payment_intent.created", "HandleEvent:payment_intent.status_updated"),
        method="HandleEventV1",
        http="POST",
        path="/events",
        handler=handle_event,
        operation_id="v1-post-events",
        summary="Handle a Dojo event",
        body="Event",
        answer="Empty",
        errors=(400, 413),
    ),
)
BY_METHOD: Final = {op.method: op for op in OPERATIONS}
CAPABILITY_VERSION: Final = "1.0.0"  # the version Dojo's own examples register these names with


def capabilities(*, has_tables: bool) -> list[tuple[str, str]]:
    """What to register: every capability, those of the floor only while it has a table."""
    offered = [op for op in OPERATIONS if has_tables or not op.needs_tables]
    return [(name, CAPABILITY_VERSION) for op in offered for name in op.capabilities]
