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
from server.orders.filters import SearchFilters
from server.orders.model import OrderDraft, OrderItem, OrderType

M = TypeVar("M", bound=BaseModel)


@strawberry.input(description="An amount of money: minor units and their currency.")
class MoneyInput:
    value: MinorUnits = strawberry.field(description="Minor units: 1050 is £10.50.")
    currency_code: str = strawberry.field(
        description="ISO 4217 alpha-3 currency code; Dojo takes GBP and EUR. An order has one currency."
    )


@strawberry.input(description="A change to an item or sub-item (extra cheese), with its own price.")
class ModifierInput:
    name: str = strawberry.field(description="A human-readable name of the modifier.")
    plu: str = strawberry.field(description="The modifier's PLU (price look-up code).")
    quantity: int = strawberry.field(
        description="How many times it is applied to a single item: two burgers, each with double "
        "extra cheese, have a quantity of 2, not 4."
    )
    amount_per_modifier: MoneyInput = strawberry.field(description="The price of a single modifier.")


@strawberry.input(description="A part of an item (a meal's side or drink), with its own price and modifiers.")
class SubItemInput:
    name: str = strawberry.field(description="A human-readable name of the item.")
    plu: str = strawberry.field(description="The product's PLU (price look-up code).")
    quantity: int = strawberry.field(description="How many are ordered.")
    amount_per_item: MoneyInput = strawberry.field(
        description="The base price of a single one, before any modifiers, sub-items or discounts "
        "(a sub-item's: without its parent item)."
    )
    note: str | None = strawberry.field(default=None, description="A note about it, for the kitchen.")
    modifiers: list[ModifierInput] | None = strawberry.field(
        default=None, description="Modifiers applied to it."
    )


@strawberry.input(description="A line of the order: what is ordered.")
class ItemInput(SubItemInput):
    sub_items: list[SubItemInput] | None = strawberry.field(
        default=None, description="Sub-items applied to the item."
    )


@strawberry.input(description="A discount applied to the order, or to one product in it.")
class DiscountInput:
    name: str = strawberry.field(description="The name given to the discount.")
    amount_total: MoneyInput = strawberry.field(description="How much it takes off.")
    affected_plu: str | None = strawberry.field(
        default=None,
        description="The PLU of the product it applies to; null if it applies to the total amount.",
    )
    discount_reference: str | None = strawberry.field(
        default=None, description="The reference that uniquely identifies the discount."
    )
    code: str | None = strawberry.field(default=None, description="The discount code.")
    amount_percentage: int | None = strawberry.field(
        default=None, description="The percentage it covers, with precision 2: 25.1% is 2510."
    )


@strawberry.input(description="A tax applied to the order, or to one product in it.")
class TaxLineInput:
    amount_total: MoneyInput = strawberry.field(description="How much the tax comes to.")
    id: str | None = strawberry.field(default=None, description="The tax line's unique identifier.")
    name: str | None = strawberry.field(default=None, description="The name of the tax.")
    affected_plu: str | None = strawberry.field(
        default=None, description="The PLU of the product it applies to, if it is a product-specific tax."
    )
    amount_percentage: int | None = strawberry.field(
        default=None, description="The tax percentage, with precision 2: 25.1% is 2510."
    )


@strawberry.input(description="The customer who placed the order, as far as they are known.")
class CustomerInput:
    id: str | None = strawberry.field(default=None, description="The unique identifier of the customer.")
    name: str | None = strawberry.field(default=None, description="The customer's name.")
    email_address: str | None = strawberry.field(default=None, description="The customer's email address.")
    phone_number: str | None = strawberry.field(default=None, description="The customer's phone number.")


@strawberry.input(description="Where a dine-in order goes: its table, waiter, party and reservation.")
class DineInInput:
    table_id: str | None = strawberry.field(default=None, description="The table the order is for.")
    waiter_id: str | None = strawberry.field(default=None, description="The waiter who serves the table.")
    party_id: str | None = strawberry.field(
        default=None, description="The ID of the party that made this order, if known."
    )
    reservation_id: str | None = strawberry.field(
        default=None,
        description="If this order is a pre-order for a reservation, the ID of that reservation.",
    )
    ready_at: datetime | None = strawberry.field(
        default=None, description="When a pre-order should be ready; only for pre-orders."
    )


@strawberry.input(description="When a collection order is collected.")
class CollectionInput:
    asap: bool | None = strawberry.field(
        default=None, description="Whether it is collected as soon as possible."
    )
    collect_at: datetime | None = strawberry.field(
        default=None, description="When it is collected; only when `asap` is not true."
    )


@strawberry.input(description="Whether the order is eaten in or collected, and the details of either.")
class OrderDetailsInput:
    order_type: OrderType = strawberry.field(description="Eaten in, or collected.")
    dine_in: DineInInput | None = strawberry.field(
        default=None, description="For a dine-in order: where it goes."
    )
    collection: CollectionInput | None = strawberry.field(
        default=None, description="For a collection order: when it is collected."
    )


@strawberry.input(description="A payment already made towards the order: one Dojo payment intent.")
class PaymentInput:
    payment_intent_id: str = strawberry.field(
        description="Dojo's payment intent: an order holds each one once."
    )
    paid_amount: MoneyInput = strawberry.field(
        description="What this payment paid, excluding its tip but including any service charge."
    )
    tips_amount: MoneyInput | None = strawberry.field(
        default=None, description="The tip added to this payment; not included in `paidAmount`."
    )


@strawberry.input(description="A staff-entered order: the same content and rules as Dojo's CreateOrder.")
class CreateOrderInput:
    details: OrderDetailsInput = strawberry.field(description="Eaten in or collected, and where or when.")
    items: list[ItemInput] = strawberry.field(description="The line items purchased by the customer.")
    total_amount: MoneyInput = strawberry.field(
        description="The total amount of the order, after discounts and taxes. Includes the service "
        "charge, but not tips."
    )
    reference: str | None = strawberry.field(default=None, description="A human-readable order ID.")
    display_name: str | None = strawberry.field(
        default=None, description="The display name of the order: card terminals show it."
    )
    note: str | None = strawberry.field(default=None, description="A note about the whole order.")
    discounts: list[DiscountInput] | None = strawberry.field(
        default=None, description="The discounts applied to the order."
    )
    tax_lines: list[TaxLineInput] | None = strawberry.field(
        default=None, description="The taxes applied to the order."
    )
    service_charge_amount: MoneyInput | None = strawberry.field(
        default=None, description="The service charge applied; it must already be included in `totalAmount`."
    )
    customer: CustomerInput | None = strawberry.field(
        default=None, description="Who placed the order, if known."
    )
    payments: list[PaymentInput] | None = strawberry.field(
        default=None, description="Payments already made towards the order."
    )


@strawberry.input(description="Which orders to list: every condition given must hold.")
class OrderFilter:
    statuses: list[OrderStatus] | None = strawberry.field(
        default=None, description="In any of these statuses."
    )
    order_type: OrderType | None = strawberry.field(default=None, description="Of this type.")
    table_id: str | None = strawberry.field(default=None, description="For this table.")
    waiter_id: str | None = strawberry.field(default=None, description="For this waiter.")
    payable_only: bool = strawberry.field(
        default=False, description="Only orders that can still be paid for."
    )
    created_after: datetime | None = strawberry.field(
        default=None, description="Placed at or after this moment."
    )
    created_before: datetime | None = strawberry.field(default=None, description="Placed before this moment.")
    text: str | None = strawberry.field(
        default=None, description="Found in the reference or the display name, ignoring case."
    )


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
