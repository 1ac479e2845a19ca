"""The domain's enums, registered once as GraphQL enums before any type refers to them, each
value described here: the domain modules know nothing of GraphQL."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TypeVar

import strawberry
from strawberry.types.enum import StrawberryEnumDefinition

from server.actors import ActorKind
from server.changes.model import ChangeKind
from server.dojo.connection import LinkState
from server.lifecycle import OrderStatus
from server.orders.model import OrderType
from server.payments.model import PaymentSource, PaymentStatus

E = TypeVar("E", bound=Enum)


def described(cls: type[E], meanings: Mapping[E, str], *, description: str, name: str | None = None) -> None:
    """Register `cls` as a GraphQL enum, every value with its meaning (a value left out is a
    KeyError at import, so a new member cannot reach the schema undescribed)."""
    strawberry.enum(cls, name=name, description=description)
    definition: StrawberryEnumDefinition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    for value in definition.values:
        value.description = meanings[cls(value.value)]


described(
    OrderStatus,
    {
        OrderStatus.NEW: "Just placed, by Dojo or by staff.",
        OrderStatus.SUBMITTED: "Submitted, waiting to be confirmed.",
        OrderStatus.CONFIRMED: "Confirmed by the POS (a Dojo order at once, where the venue "
        "auto-confirms). Until the kitchen accepts it, Dojo may still cancel it.",
        OrderStatus.ACCEPTED: "Accepted by the kitchen: Dojo can no longer cancel it.",
        OrderStatus.PREPARING: "Being made: the kitchen bumped it, or a station bumped its first items.",
        OrderStatus.PREPARED: "Made: every station has bumped its items.",
        OrderStatus.READY: "At the pass, ready to be served or collected.",
        OrderStatus.FINALIZED: "Completed and paid for; no further changes. Only an order paid "
        "in full gets here.",
        OrderStatus.CANCELED: "Canceled, by Dojo or by staff; no further changes.",
        OrderStatus.FAILED: "Failed, and given up on; no further changes.",
    },
    description="Dojo's order statuses. `Order.allowedMoves` lists where an order may go next.",
)
described(
    OrderType,
    {
        OrderType.DINE_IN: "Eaten in: `dineIn` says at which table, for which waiter.",
        OrderType.COLLECTION: "Collected by the customer: `collection` says when.",
    },
    description="Whether an order is eaten in or collected (Dojo's order types).",
)
described(
    ChangeKind,
    {
        ChangeKind.CREATED: "The order was placed.",
        ChangeKind.STATUS_CHANGED: "The order moved from one status to another.",
        ChangeKind.PAYMENT_CHANGED: "A payment was added, or Dojo reported a new status for one.",
        ChangeKind.CANCELED: "The order was canceled.",
        ChangeKind.PREP_CHANGED: "A prep station bumped some of its items, or brought them back.",
        ChangeKind.ITEMS_CHANGED: "Items were added to the order, or voided, after it was placed.",
        ChangeKind.LOCK_OVERRIDDEN: "An admin removed Dojo's lock on the order (releaseLock).",
        ChangeKind.FIRED: "An order placed for a time reached its fire time (that time less the prep "
        "time) and went on the kitchen's screens; its status is unchanged.",
    },
    name="OrderChangeKind",
    description="What a change did to an order: in its history, and on the live feed.",
)
described(
    PaymentStatus,
    {
        PaymentStatus.CREATED: "The payment intent exists; nothing is authorised yet.",
        PaymentStatus.AUTHORIZED: "Pre-authorised: the money is held. It counts as paid.",
        PaymentStatus.CAPTURED: "Captured: the money is taken. It counts as paid.",
        PaymentStatus.REVERSED: "The authorisation was reversed. It no longer counts.",
        PaymentStatus.REFUNDED: "Refunded. It no longer counts.",
        PaymentStatus.CANCELED: "The payment intent was canceled. It does not count.",
    },
    description="A Dojo payment intent's status.",
)
described(
    PaymentSource,
    {
        PaymentSource.ORDER: "Listed in the order as it was placed (CreateOrder's payments).",
        PaymentSource.RECORDED: "Recorded afterwards: Dojo's RecordOrderPayment, or recordPayment.",
        PaymentSource.RESOLVED: "Learned from a Dojo payment event, matched to the order through "
        "Dojo's payment-intent API.",
    },
    description="How we learned of a payment.",
)
described(
    ActorKind,
    {
        ActorKind.DOJO: "Dojo, calling the POS (Order & Pay, a card terminal): its requestor "
        "headers say which waiter, product and device.",
        ActorKind.STAFF: "A member of staff, by their token's name.",
        ActorKind.POS: "orderpass itself: an automatic step (auto-confirming a Dojo order, "
        "matching a payment, loading the venue file).",
    },
    description="Who made a change: Dojo, a member of staff, or the POS itself.",
)


described(
    LinkState,
    {
        LinkState.OFF: "No WebSocket to Dojo: ORDERPASS_DOJO_WS_URL is not set, or no process holds it.",
        LinkState.STANDBY: "Another orderpass process holds the socket; this one stands by.",
        LinkState.CONNECTING: "Dialling Dojo.",
        LinkState.CONNECTED: "Connected: Dojo's calls arrive over the socket.",
        LinkState.RECONNECTING: "The socket was lost; dialling again with backoff.",
        LinkState.REFUSED: "Dojo refused our API key at the handshake; retrying only every 30 seconds.",
    },
    description="The state of the one WebSocket to Dojo.",
    name="DojoConnectionState",
)
