"""GraphQL inputs, and their one way into the domain: the same pydantic models, so a staff
order keeps exactly the rules a Dojo order keeps."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import strawberry
from pydantic import BaseModel, ValidationError
from pydantic.alias_generators import to_camel

from schema.scalars import MinorUnits
from server import errors
from server.lifecycle import OrderStatus
from server.money import Money
from server.orders.model import OrderDraft, OrderItem, OrderType
from server.orders.search import SearchFilters

M = TypeVar("M", bound=BaseModel)


@strawberry.input
class MoneyInput:
    value: MinorUnits
    currency_code: str


@strawberry.input
class ModifierInput:
    name: str
    plu: str
    quantity: int
    amount_per_modifier: MoneyInput


@strawberry.input
class SubItemInput:
    name: str
    plu: str
    quantity: int
    amount_per_item: MoneyInput
    note: str | None = None
    modifiers: list[ModifierInput] | None = None


@strawberry.input
class ItemInput(SubItemInput):
    sub_items: list[SubItemInput] | None = None


@strawberry.input
class DiscountInput:
    name: str
    amount_total: MoneyInput
    affected_plu: str | None = None
    discount_reference: str | None = None
    code: str | None = None
    amount_percentage: int | None = None


@strawberry.input
class TaxLineInput:
    amount_total: MoneyInput
    id: str | None = None
    name: str | None = None
    affected_plu: str | None = None
    amount_percentage: int | None = None


@strawberry.input
class CustomerInput:
    id: str | None = None
    name: str | None = None
    email_address: str | None = None
    phone_number: str | None = None


@strawberry.input
class DineInInput:
    table_id: str | None = None
    waiter_id: str | None = None
    party_id: str | None = None
    reservation_id: str | None = None
    ready_at: datetime | None = None


@strawberry.input
class CollectionInput:
    asap: bool | None = None
    collect_at: datetime | None = None


@strawberry.input
class OrderDetailsInput:
    order_type: OrderType
    dine_in: DineInInput | None = None
    collection: CollectionInput | None = None


@strawberry.input
class PaymentInput:
    payment_intent_id: str
    paid_amount: MoneyInput
    tips_amount: MoneyInput | None = None


@strawberry.input(description="A staff-entered order: the same content and rules as Dojo's CreateOrder.")
class CreateOrderInput:
    details: OrderDetailsInput
    items: list[ItemInput]
    total_amount: MoneyInput
    reference: str | None = None
    display_name: str | None = None
    note: str | None = None
    discounts: list[DiscountInput] | None = None
    tax_lines: list[TaxLineInput] | None = None
    service_charge_amount: MoneyInput | None = None
    customer: CustomerInput | None = None
    payments: list[PaymentInput] | None = None


@strawberry.input
class OrderFilter:
    statuses: list[OrderStatus] | None = None
    order_type: OrderType | None = None
    table_id: str | None = None
    waiter_id: str | None = None
    payable_only: bool = False
    created_after: datetime | None = None
    created_before: datetime | None = None
    text: str | None = strawberry.field(default=None, description="In the reference or display name.")


def draft(given: CreateOrderInput) -> OrderDraft:
    return _validated(OrderDraft, given)


def items(given: list[ItemInput]) -> list[OrderItem]:
    return [_validated(OrderItem, item) for item in given]


def money(given: MoneyInput) -> Money:
    return _validated(Money, given)


def filters(given: OrderFilter | None) -> SearchFilters:
    if given is None:
        return SearchFilters()
    fields = {name: value for name, value in vars(given).items() if name != "statuses"}
    return SearchFilters(**fields, statuses=tuple(given.statuses or ()))


def _validated(model: type[M], given: object) -> M:
    plain = _plain(strawberry.asdict(given))  # holds no NUL: schema/text.py refused any before this ran
    try:
        return model.model_validate(plain, strict=False)
    except ValidationError as exc:
        raise errors.invalid(exc) from None


def _plain(value: Any) -> Any:
    """Inputs as the same camelCase data the REST door parses (so errors name fields alike),
    leaving out what was not given so the model's defaults apply."""
    if isinstance(value, dict):
        return {to_camel(key): _plain(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
