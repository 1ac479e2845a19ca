"""What an order is, with no I/O: its content as Dojo describes it, the rules that content must
keep, and the order as we hold it (content + status + payments).

Field names are snake_case here and Dojo's camelCase on the wire (aliases), so the REST shim
parses Dojo's JSON straight into these models and the validation rules live once, here.

An optional field (`Omittable`) is left out or given a value, never `null`: Dojo's schemas mark
no field nullable, so `"note": null` is refused with the field's name, as `"note": 7` is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from operator import attrgetter
from typing import Annotated, Any, Final, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import CoreSchema, core_schema

from server.clock import UtcDatetime
from server.errors import Conflict, InvalidRequest
from server.lifecycle import TERMINAL, OrderStatus
from server.money import MAX_VALUE, Money, is_currency
from server.payments.model import Lock, Payment
from server.stations.routing import PrepLine
from server.trusted import trusted

T = TypeVar("T")


class _NeverNull:
    """`T | None` read from JSON as plain `T`, so a JSON null is refused like any other wrong type
    (in pydantic-core: no Python runs per field); an absent field keeps its default, None. Built
    in Python (our own code, the GraphQL door's inputs), None still means absent."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        schema = handler(source)
        if schema["type"] != "nullable":
            return schema
        return core_schema.json_or_python_schema(json_schema=schema["schema"], python_schema=schema)


Omittable = Annotated[T | None, _NeverNull()]  # Dojo's optional field: absent, or a T (never null)

MAX_QUANTITY = 1_000_000
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
Percentage = Annotated[int, Field(ge=0, le=1_000_000, description="Percent with precision 2: 25.1% is 2510.")]


class Content(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, strict=True)


class Modifier(Content):
    model_config = ConfigDict(title="Modifier")
    name: str
    quantity: Quantity
    amount_per_modifier: Money
    plu: str


class OrderSubItem(Content):
    model_config = ConfigDict(title="OrderSubItem")
    name: str
    amount_per_item: Money
    plu: str
    quantity: Quantity
    note: Omittable[str] = None
    modifiers: tuple[Modifier, ...] = ()

    def unit_price(self) -> int:
        """One of this item with its modifiers (a modifier's quantity is per single item)."""
        return self.amount_per_item.value + sum(
            m.quantity * m.amount_per_modifier.value for m in self.modifiers
        )

    def line_total(self) -> int:
        return self.quantity * self.unit_price()


class OrderItem(OrderSubItem):
    model_config = ConfigDict(title="OrderItem")
    sub_items: tuple[OrderSubItem, ...] = ()

    def unit_price(self) -> int:
        return super().unit_price() + sum(sub.line_total() for sub in self.sub_items)


class Customer(Content):
    model_config = ConfigDict(title="Customer")
    id: Omittable[str] = None
    email_address: Omittable[str] = Field(default=None, max_length=254)
    phone_number: Omittable[str] = Field(default=None, max_length=50)
    name: Omittable[str] = None


class Discount(Content):
    model_config = ConfigDict(title="Discount")
    name: str
    affected_plu: Omittable[str] = None
    discount_reference: Omittable[str] = None
    code: Omittable[str] = None
    amount_total: Money
    amount_percentage: Omittable[Percentage] = None


class TaxLine(Content):
    model_config = ConfigDict(title="TaxLine")
    id: Omittable[str] = Field(default=None, max_length=60)
    name: Omittable[str] = Field(default=None, max_length=100)
    affected_plu: Omittable[str] = None
    amount_percentage: Omittable[Percentage] = None
    amount_total: Money


class PaymentIn(Content):
    model_config = ConfigDict(title="Payment")
    payment_intent_id: str = Field(min_length=1)
    paid_amount: Money
    tips_amount: Omittable[Money] = None


class OrderType(StrEnum):
    DINE_IN = "DineIn"
    COLLECTION = "Collection"


class DineInDetails(Content):
    model_config = ConfigDict(title="DineInDetails")
    table_id: Omittable[str] = None
    waiter_id: Omittable[str] = None
    party_id: Omittable[str] = None
    reservation_id: Omittable[str] = None
    ready_at: Omittable[UtcDatetime] = None


class CollectionDetails(Content):
    model_config = ConfigDict(title="CollectionDetails")
    asap: Omittable[bool] = None
    collect_at: Omittable[UtcDatetime] = None


class OrderDetails(Content):
    model_config = ConfigDict(title="OrderDetails")
    order_type: OrderType
    dine_in: Omittable[DineInDetails] = None
    collection: Omittable[CollectionDetails] = None

    @model_validator(mode="after")
    def _has_details(self) -> Self:
        if self.dine_in is None and self.collection is None:
            raise ValueError("details needs dineIn or collection")
        return self


class OrderContent(Content):
    """What was ordered: everything of CreateOrderRequest but the ids and the payments."""

    items: tuple[OrderItem, ...]
    note: Omittable[str] = None
    customer: Omittable[Customer] = None
    discounts: tuple[Discount, ...] = ()
    total_amount: Money
    tax_lines: tuple[TaxLine, ...] = ()
    service_charge_amount: Omittable[Money] = None
    reference: Omittable[str] = None
    details: OrderDetails
    display_name: Omittable[str] = None

    def amounts(self) -> list[Money]:
        """Every amount the content names (a list, not a chain of generators: CreateOrder's
        currency check walks them all, and the chain was half of parsing an order)."""
        found = [self.total_amount]
        if self.service_charge_amount is not None:
            found.append(self.service_charge_amount)
        for item in self.items:
            found += item_amounts(item)
        found += [discount.amount_total for discount in self.discounts]
        found += [tax.amount_total for tax in self.tax_lines]
        return found

    @property
    def currency(self) -> str:
        return self.total_amount.currency_code


class OrderDraft(OrderContent):
    """An order to place: the content, the payments already taken, and Dojo's id if it came from Dojo."""

    dojo_order_id: Omittable[str] = Field(default=None, min_length=1, max_length=200)
    payments: tuple[PaymentIn, ...] = ()

    @model_validator(mode="after")
    def _one_currency(self) -> Self:
        codes = set(map(_CODE, self._all_amounts()))
        unknown = sorted(code for code in codes if not is_currency(code))
        if unknown:
            raise ValueError(f"not an ISO 4217 currency code: {', '.join(unknown)}")
        if len(codes) > 1:
            raise ValueError(f"one order takes one currency, got {', '.join(sorted(codes))}")
        return self

    @model_validator(mode="after")
    def _sums_fit(self) -> Self:
        paid = sum(payment.paid_amount.value for payment in self.payments)
        tips = sum(payment.tips_amount.value for payment in self.payments if payment.tips_amount)
        if max(paid, tips) > MAX_VALUE:
            raise ValueError(f"payments add up to more than the largest amount, {MAX_VALUE}")
        return self

    def _all_amounts(self) -> list[Money]:
        found = self.amounts()
        for payment in self.payments:
            found.append(payment.paid_amount)
            if payment.tips_amount is not None:
                found.append(payment.tips_amount)
        return found

    def content(self) -> OrderContent:
        """The content alone, its values already validated: made as `model_construct` makes it
        when every field is named, without its walk (server/trusted.py)."""
        return trusted(OrderContent, {name: getattr(self, name) for name in _CONTENT_FIELDS})


_CONTENT_FIELDS = tuple(OrderContent.model_fields)
_CONTENT_JSON: Final = OrderContent.__pydantic_serializer__


def content_json(content: OrderContent) -> bytes:
    """The content as Dojo reads it, as JSON: pydantic-core writes it straight, without a dict of it."""
    return _CONTENT_JSON.to_json(content, by_alias=True, exclude_defaults=True)


def item_amounts(item: OrderSubItem) -> list[Money]:
    """Every amount an item names: its price, its modifiers', and its sub-items' with theirs."""
    found = [item.amount_per_item]
    if item.modifiers:
        found += map(_PER_MODIFIER, item.modifiers)
    if isinstance(item, OrderItem):
        for sub_item in item.sub_items:
            found += item_amounts(sub_item)
    return found


# C-level getters for the walks above: every CreateOrder checks its ~25 amounts' currencies.
_CODE: Final = attrgetter("currency_code")
_PER_MODIFIER: Final = attrgetter("amount_per_modifier")


@dataclass(frozen=True, slots=True)
class VoidedItem:
    """An item taken off an order after it was placed: off the bill, struck through on screens."""

    line: int
    item: OrderItem
    station: str | None
    voided_at: datetime
    reason: str | None


@dataclass(frozen=True, slots=True)
class Order:
    """An order as we hold it."""

    id: str
    dojo_order_id: str | None
    status: OrderStatus
    version: int
    content: OrderContent
    payments: tuple[Payment, ...]
    created_at: datetime
    updated_at: datetime
    lock: Lock | None = None  # Dojo's, while it takes payment; may have expired
    prep: tuple[PrepLine, ...] = ()  # each item at its station (server/stations/routing.py), in item order
    voided: tuple[VoidedItem, ...] = ()  # items taken off since it was placed (not in `content`)
    requesting_product: str | None = None  # the Dojo product that placed it (Order&Pay, ...), if Dojo did
    # The content's JSON when it was already written (an order just placed: its fingerprint was
    # taken of it), with the content it is of: dataclasses.replace carries it to another content.
    written: tuple[OrderContent, bytes] | None = field(default=None, compare=False, repr=False)

    def content_json(self) -> bytes:
        """The content as Dojo reads it (camelCase, defaults left out), as JSON."""
        if self.written is not None and self.written[0] is self.content:
            return self.written[1]
        return content_json(self.content)

    @property
    def currency(self) -> str:
        return self.content.currency

    @property
    def counted_payments(self) -> tuple[Payment, ...]:
        return tuple(payment for payment in self.payments if payment.counts)

    @property
    def paid_amount(self) -> int:
        return sum(payment.paid_amount for payment in self.counted_payments)

    @property
    def tips_amount(self) -> int:
        return sum(payment.tips_amount for payment in self.counted_payments)

    @property
    def paid_in_full(self) -> bool:
        return self.paid_amount >= self.content.total_amount.value

    @property
    def payable(self) -> bool:
        return self.status not in TERMINAL and not self.paid_in_full

    def lines(self) -> list[tuple[OrderItem, PrepLine | None]]:
        """Each item with its place at a station (its `line` is how a station or an edit names it)."""
        if not self.prep:
            return [(item, None) for item in self.content.items]
        return list(zip(self.content.items, self.prep, strict=True))

    def added_later(self, line: PrepLine) -> bool:
        """Whether an item arrived after the order was placed (an edit after firing)."""
        return line.routed_at > self.created_at

    def lock_at(self, now: datetime) -> Lock | None:
        """The lock that holds now, if any."""
        return self.lock if self.lock is not None and self.lock.holds(now) else None

    def check_unlocked(self, now: datetime) -> None:
        """Refuse a change to what is being paid while Dojo's lock holds the order."""
        lock = self.lock_at(now)
        if lock is not None:
            raise Conflict(
                f"Dojo is taking payment for order {self.id} ({lock.describe()}); try once it is paid"
            )

    def check_currency(self, amounts: Iterable[Money], *, field: str) -> None:
        """Every amount given for this order is in its one currency."""
        others = sorted({money.currency_code for money in amounts} - {self.currency})
        if others:
            named = ", ".join(others)
            message = f"order {self.id} is in {self.currency}: every amount must be too, not {named}"
            raise InvalidRequest(message, field=field)
