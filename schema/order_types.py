"""The order as GraphQL shows it: its items, details and payments (its history is in
schema/history_types.py), and `order()`, the one way a domain Order becomes an `Order` node."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from schema.context import Info
from schema.history_types import HistoryEntryNode, history_entry
from schema.scalars import MinorUnits
from server import lifecycle
from server.lifecycle import OrderStatus
from server.money import format_amount
from server.orders.model import Order as DomainOrder
from server.orders.model import OrderItem, OrderSubItem, OrderType
from server.orders.model import VoidedItem as DomainVoidedItem
from server.payments.model import Payment as DomainPayment
from server.payments.model import PaymentSource, PaymentStatus
from server.stations.routing import PrepLine

if TYPE_CHECKING:
    from schema.floor import TableNode


@strawberry.type(description="An amount of money: minor units and their currency.")
class Money:
    value: MinorUnits = strawberry.field(description="Minor units: 1050 is £10.50.")
    currency_code: str = strawberry.field(
        description="ISO 4217 alpha-3 currency code; Dojo takes GBP and EUR. An order has one currency."
    )

    @strawberry.field(
        description="For people: `£10.50`, or `10.50 CHF` for a currency without a symbol here."
    )
    def formatted(self) -> str:
        return format_amount(self.value, self.currency_code)


@strawberry.type(description="A change to an item or sub-item (extra cheese), with its own price.")
class Modifier:
    name: str = strawberry.field(description="A human-readable name of the modifier.")
    plu: str = strawberry.field(description="The modifier's PLU (price look-up code).")
    quantity: int = strawberry.field(
        description="How many times it is applied to a single item: two burgers, each with double "
        "extra cheese, have a quantity of 2, not 4."
    )
    amount_per_modifier: Money = strawberry.field(description="The price of a single modifier.")


@strawberry.type(description="A part of an item (a meal's side or drink), with its own price and modifiers.")
class SubItem:
    name: str = strawberry.field(description="A human-readable name of the item.")
    plu: str = strawberry.field(description="The product's PLU (price look-up code).")
    quantity: int = strawberry.field(description="How many were ordered.")
    amount_per_item: Money = strawberry.field(
        description="The base price of a single one, before any modifiers, sub-items or discounts "
        "(a sub-item's: without its parent item)."
    )
    note: str | None = strawberry.field(description="A note about it, for the kitchen.")
    modifiers: list[Modifier] = strawberry.field(description="Modifiers applied to it.")


@strawberry.type(
    description="A line of the order: what was ordered, the station that makes it, and whether it is done."
)
class Item(SubItem):
    sub_items: list[SubItem] = strawberry.field(description="Sub-items applied to the item.")
    line: int = strawberry.field(description="How a station bump or a void names it (a new order: 1..n).")
    station: str | None = strawberry.field(description="The prep station it was routed to on arrival.")
    done_at: datetime | None = strawberry.field(description="When its station bumped it; null while to do.")
    added_later: bool = strawberry.field(description="Added after the order was placed (addItems).")


@strawberry.type(description="An item taken off the order after it was placed (voidItems).")
class VoidedItem:
    line: int = strawberry.field(description="The line it had (Item.line); no other item takes it.")
    name: str = strawberry.field(description="The item's name, as it was ordered.")
    plu: str = strawberry.field(description="The item's PLU, as it was ordered.")
    quantity: int = strawberry.field(description="How many were ordered, all of them voided.")
    station: str | None = strawberry.field(description="The prep station it had been routed to.")
    voided_at: datetime = strawberry.field(description="When it was voided.")
    reason: str | None = strawberry.field(description="Why, in the words of whoever voided it.")


@strawberry.type(description="A discount applied to the order, or to one product in it.")
class Discount:
    name: str = strawberry.field(description="The name that was given to the discount.")
    affected_plu: str | None = strawberry.field(
        description="The PLU of the product it applies to; null if it applies to the total amount."
    )
    discount_reference: str | None = strawberry.field(
        description="The reference that uniquely identifies the discount."
    )
    code: str | None = strawberry.field(description="The discount code.")
    amount_total: Money = strawberry.field(description="How much it takes off.")
    amount_percentage: int | None = strawberry.field(
        description="The percentage it covers, with precision 2: 25.1% is 2510."
    )


@strawberry.type(description="A tax applied to the order, or to one product in it.")
class TaxLine:
    id: str | None = strawberry.field(description="The tax line's unique identifier.")
    name: str | None = strawberry.field(description="The name of the tax.")
    affected_plu: str | None = strawberry.field(
        description="The PLU of the product it applies to, if it is a product-specific tax."
    )
    amount_percentage: int | None = strawberry.field(
        description="The tax percentage, with precision 2: 25.1% is 2510."
    )
    amount_total: Money = strawberry.field(description="How much the tax comes to.")


@strawberry.type(description="The customer who placed the order, as far as they are known.")
class Customer:
    id: str | None = strawberry.field(description="The unique identifier of the customer.")
    name: str | None = strawberry.field(description="The customer's name.")
    email_address: str | None = strawberry.field(description="The customer's email address.")
    phone_number: str | None = strawberry.field(description="The customer's phone number.")


@strawberry.type(description="Where a dine-in order goes: its table, waiter, party and reservation.")
class DineIn:
    table_id: str | None = strawberry.field(description="The table the order is for.")
    waiter_id: str | None = strawberry.field(description="The waiter who serves the table.")
    party_id: str | None = strawberry.field(description="The ID of the party that made this order, if known.")
    reservation_id: str | None = strawberry.field(
        description="If this order is a pre-order for a reservation, the ID of that reservation."
    )
    ready_at: datetime | None = strawberry.field(
        description="When a pre-order should be ready; only for pre-orders."
    )


@strawberry.type(description="When a collection order is collected.")
class Collection:
    asap: bool | None = strawberry.field(description="Whether it is collected as soon as possible.")
    collect_at: datetime | None = strawberry.field(
        description="When it is collected; only when `asap` is not true."
    )


@strawberry.type(description="A payment towards the order: one Dojo payment intent.")
class Payment:
    payment_intent_id: str = strawberry.field(
        description="Dojo's payment intent: an order holds each one once."
    )
    paid_amount: Money = strawberry.field(
        description="What this payment paid, excluding its tip but including any service charge."
    )
    tips_amount: Money = strawberry.field(
        description="The tip added to this payment; not included in `paidAmount`."
    )
    status: PaymentStatus | None = strawberry.field(description="Latest known; null until Dojo reports one.")
    status_at: datetime | None = strawberry.field(
        description="When Dojo created the event that reported `status`; null until one arrives."
    )
    source: PaymentSource = strawberry.field(description="How we learned of it.")
    counts: bool = strawberry.field(description="Whether it counts towards paidAmount.")


@strawberry.type(
    name="Order",
    description="An order as Dojo's contract has it (its content, payments and status), with what "
    "the POS adds: each item's station, the order's history, and the moves its status allows.",
)
class OrderNode:
    id: strawberry.ID = strawberry.field(
        description="The POS's id for the order; Dojo calls it the order's `externalId`."
    )
    dojo_order_id: str | None = strawberry.field(
        description="Dojo's id for the order, when Dojo placed it; null for a staff order."
    )
    reference: str | None = strawberry.field(description="A human-readable order ID.")
    display_name: str | None = strawberry.field(
        description="The display name of the order: card terminals show it, else the table, else the id."
    )
    note: str | None = strawberry.field(description="A note about the whole order.")
    status: OrderStatus = strawberry.field(description="Where the order is in its lifecycle.")
    order_type: OrderType = strawberry.field(description="Eaten in, or collected.")
    dine_in: DineIn | None = strawberry.field(
        description="Its table, waiter, party and reservation, if it has them (a dine-in order)."
    )
    collection: Collection | None = strawberry.field(
        description="When it is collected, if it is a collection order."
    )
    items: list[Item] = strawberry.field(
        description="The line items purchased by the customer, as they now are (voided ones left out)."
    )
    voided_items: list[VoidedItem] = strawberry.field(
        description="Items taken off the order after it was placed: off the bill, struck through on screens."
    )
    discounts: list[Discount] = strawberry.field(description="The discounts applied to the order.")
    tax_lines: list[TaxLine] = strawberry.field(description="The taxes applied to the order.")
    service_charge: Money | None = strawberry.field(
        description="The service charge applied, included in `totalAmount`; null if there is none."
    )
    total_amount: Money = strawberry.field(
        description="The total amount of the order, after discounts and taxes. Includes the service "
        "charge, but not tips."
    )
    customer: Customer | None = strawberry.field(description="Who placed the order, if known.")
    payments: list[Payment] = strawberry.field(
        description="Every payment made towards it, including any that no longer count (see `counts`)."
    )
    paid_amount: Money = strawberry.field(
        description="What the payments that count have paid, excluding tips but including any service charge."
    )
    tips_amount: Money = strawberry.field(
        description="The tips of the payments that count, summed; in neither `totalAmount` nor `paidAmount`."
    )
    payable: bool = strawberry.field(
        description="Whether the order can be paid for: it is not paid in full, nor Finalized, "
        "Canceled or Failed."
    )
    created_at: datetime = strawberry.field(description="When the order was placed.")
    updated_at: datetime = strawberry.field(description="When the order last changed.")
    version: int = strawberry.field(
        description="1 when placed, one more with every change: of two copies, the higher is newer."
    )

    @strawberry.field(description="Every status the lifecycle table allows next.")
    def allowed_moves(self) -> list[OrderStatus]:
        return sorted(lifecycle.NEXT[self.status], key=list(OrderStatus).index)

    @strawberry.field(description="Where a kitchen bump takes this order, if anywhere.")
    def bump_to(self) -> OrderStatus | None:
        return lifecycle.BUMP.get(self.status)

    @strawberry.field(description="Where a kitchen recall takes this order, if anywhere.")
    def recall_to(self) -> OrderStatus | None:
        return lifecycle.RECALL.get(self.status)

    @strawberry.field(description="Everything that happened to the order, oldest first.")
    async def history(self, info: Info) -> list[HistoryEntryNode]:
        return [history_entry(entry) for entry in await info.context.histories.load(str(self.id))]

    @strawberry.field(
        description="The table `dineIn.tableId` names, where the venue's floor has one by that id; "
        "null otherwise (an order may name a table the floor does not list)."
    )
    async def table(self, info: Info) -> Annotated[TableNode, strawberry.lazy("schema.floor")] | None:
        from schema.floor import table_node  # a table shows its orders: the two refer to each other

        table_id = self.dine_in.table_id if self.dine_in else None
        found = await info.context.tables.load(table_id) if table_id else None
        return table_node(found) if found else None


# -- from the domain ----------------------------------------------------------------------------


def order(order: DomainOrder) -> OrderNode:
    content, currency = order.content, order.currency
    details = content.details

    amounts: dict[int, Money] = {}  # one node per amount: an order repeats its prices

    def money(value: int) -> Money:
        found = amounts.get(value)
        if found is None:
            found = amounts[value] = Money(value=MinorUnits(value), currency_code=currency)
        return found

    def modifiers(item: OrderSubItem) -> list[Modifier]:
        return [
            Modifier(
                name=m.name,
                plu=m.plu,
                quantity=m.quantity,
                amount_per_modifier=money(m.amount_per_modifier.value),
            )
            for m in item.modifiers
        ]

    def line(item: OrderSubItem) -> dict[str, Any]:
        """What an Item and a SubItem share."""
        return {
            "name": item.name,
            "plu": item.plu,
            "quantity": item.quantity,
            "note": item.note,
            "amount_per_item": money(item.amount_per_item.value),
            "modifiers": modifiers(item),
        }

    def sub_item(item: OrderSubItem) -> SubItem:
        return SubItem(**line(item))

    def item(n: int, given: OrderItem, at: PrepLine | None) -> Item:
        return Item(
            **line(given),
            sub_items=[sub_item(s) for s in given.sub_items],
            line=at.line if at else n,
            station=at.station if at else None,
            done_at=at.done_at if at else None,
            added_later=order.added_later(at) if at else False,
        )

    def voided(given: DomainVoidedItem) -> VoidedItem:
        return VoidedItem(
            line=given.line,
            name=given.item.name,
            plu=given.item.plu,
            quantity=given.item.quantity,
            station=given.station,
            voided_at=given.voided_at,
            reason=given.reason,
        )

    return OrderNode(
        id=strawberry.ID(order.id),
        dojo_order_id=order.dojo_order_id,
        reference=content.reference,
        display_name=content.display_name,
        note=content.note,
        status=order.status,
        order_type=details.order_type,
        dine_in=DineIn(**details.dine_in.model_dump()) if details.dine_in else None,
        collection=Collection(**details.collection.model_dump()) if details.collection else None,
        items=[item(n, i, at) for n, (i, at) in enumerate(order.lines(), start=1)],
        voided_items=[voided(v) for v in order.voided],
        discounts=[
            Discount(**{**d.model_dump(), "amount_total": money(d.amount_total.value)})
            for d in content.discounts
        ],
        tax_lines=[
            TaxLine(**{**t.model_dump(), "amount_total": money(t.amount_total.value)})
            for t in content.tax_lines
        ],
        service_charge=money(content.service_charge_amount.value) if content.service_charge_amount else None,
        total_amount=money(content.total_amount.value),
        customer=Customer(**content.customer.model_dump()) if content.customer else None,
        payments=[payment(p, currency) for p in order.payments],
        paid_amount=money(order.paid_amount),
        tips_amount=money(order.tips_amount),
        payable=order.payable,
        created_at=order.created_at,
        updated_at=order.updated_at,
        version=order.version,
    )


def payment(given: DomainPayment, currency: str) -> Payment:
    return Payment(
        payment_intent_id=given.payment_intent_id,
        paid_amount=Money(value=MinorUnits(given.paid_amount), currency_code=currency),
        tips_amount=Money(value=MinorUnits(given.tips_amount), currency_code=currency),
        status=given.status,
        status_at=given.status_at,
        source=given.source,
        counts=given.counts,
    )
