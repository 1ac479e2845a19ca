"""Payments against an order, Dojo's payment-intent events, which payments count, and Dojo's
write lock on an order while it takes payment at the table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from server.clock import UtcDatetime, iso
from server.errors import describe


class PaymentStatus(StrEnum):
    CREATED = "Created"
    AUTHORIZED = "Authorized"
    CAPTURED = "Captured"
    REVERSED = "Reversed"
    REFUNDED = "Refunded"
    CANCELED = "Canceled"


class PaymentSource(StrEnum):
    ORDER = "order"  # listed by Dojo in CreateOrder
    RECORDED = "recorded"  # RecordOrderPayment
    RESOLVED = "resolved"  # learned from an event and Dojo's payment-intent API


PAID: Final = frozenset({PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED})
STOPPED: Final = frozenset({PaymentStatus.REVERSED, PaymentStatus.REFUNDED, PaymentStatus.CANCELED})


def counts(status: PaymentStatus | None, source: PaymentSource) -> bool:
    """Authorized and Captured count; Reversed, Refunded and Canceled stop counting; a payment
    Dojo handed us as paid counts until an event says otherwise."""
    if status in PAID:
        return True
    if status in STOPPED:
        return False
    return source is not PaymentSource.RESOLVED


@dataclass(frozen=True, slots=True)
class Payment:
    payment_intent_id: str
    paid_amount: int
    tips_amount: int
    source: PaymentSource
    status: PaymentStatus | None = None
    status_at: datetime | None = None

    @property
    def counts(self) -> bool:
        return counts(self.status, self.source)


@dataclass(frozen=True, slots=True)
class UnmatchedPayment:
    """A payment intent Dojo told us about that no order holds (yet)."""

    payment_intent_id: str
    status: PaymentStatus
    status_at: datetime  # createdAt of the newest event
    first_seen_at: datetime
    events: int
    lookups: int = 0  # times Dojo's payment-intent API was asked, in vain
    last_error: str | None = None
    next_lookup_at: datetime | None = None


EVENT_TYPES: Final = frozenset({"payment_intent.created", "payment_intent.status_updated"})


class _Dojo(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, strict=True)


class PaymentIntentEvent(_Dojo):
    payment_intent_id: str = Field(min_length=1)
    payment_status: PaymentStatus
    capture_mode: str


class Event(_Dojo):
    """HandleEvent's body: the AsyncAPI `Event`. `data` is parsed once the type is known."""

    id: str = Field(min_length=1)
    account_id: str
    event: str
    created_at: UtcDatetime
    data: dict[str, Any]

    @model_validator(mode="after")
    def _known_data_is_a_payment(self) -> Self:
        if self.known:
            try:
                self.payment()
            except ValidationError as exc:
                raise ValueError(f"data is not a PaymentIntentEvent: {describe(exc)}") from None
        return self

    @property
    def known(self) -> bool:
        return self.event in EVENT_TYPES

    def payment(self) -> PaymentIntentEvent:
        return PaymentIntentEvent.model_validate(self.data, strict=False)


@dataclass(frozen=True, slots=True)
class Lock:
    lock_id: str
    expiry: datetime

    def holds(self, now: datetime) -> bool:
        """A lock past its expiry no longer holds: Dojo may have vanished mid-payment."""
        return now < self.expiry

    def describe(self) -> str:
        return f"lock {self.lock_id} until {iso(self.expiry)}"


def capped(expiry: datetime, *, now: datetime, longest: timedelta) -> datetime:
    """The expiry a new or extended lock gets: what Dojo asked for, but at most `longest` from
    now. An expiry in 9999 would keep staff off the order for good should Dojo then vanish; a
    shorter one only means Dojo, which extends a live payment in short steps, extends sooner."""
    return min(expiry, now + longest)
