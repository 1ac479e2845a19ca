"""Payments against an order, Dojo's payment-intent events, and which payments count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from server.clock import UtcDatetime
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
