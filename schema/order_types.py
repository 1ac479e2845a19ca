"""The order as GraphQL shows it: its parts, its payments and history, and `order()`, the one
way a domain Order becomes an `Order` node."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from schema.context import Info
from schema.scalars import MinorUnits
from server import lifecycle
from server.actors import ActorKind
from server.changes.model import ChangeKind, HistoryEntry
from server.lifecycle import OrderStatus
from server.money import format_amount
from server.orders.model import Order as DomainOrder
from server.orders.model import OrderItem, OrderSubItem, OrderType
from server.orders.model import VoidedItem as DomainVoidedItem
from server.payments.model import Payment as DomainPayment
from server.payments.model import PaymentSource, PaymentStatus
from server.stations.routing import PrepLine


@strawberry.type
class Money:
    value: MinorUnits = strawberry.field(description="Minor units: 1050 is £10.50.")
    currency_code: str

    @strawberry.field
    def formatted(self) -> str:
        return format_amount(self.value, self.currency_code)


@strawberry.type
class Modifier:
    name: str
    plu: str
    quantity: int
    amount_per_modifier: Money


@strawberry.type
class SubItem:
    name: str
    plu: str
    quantity: int
    amount_per_item: Money
    note: str | None
    modifiers: list[Modifier]


@strawberry.type
class Item(SubItem):
    sub_items: list[SubItem]
    line: int = strawberry.field(description="How a station bump or a void names it (a new order: 1..n).")
    station: str | None = strawberry.field(description="The prep station it was routed to on arrival.")
    done_at: datetime | None = strawberry.field(description="When its station bumped it; null while to do.")
    added_later: bool = strawberry.field(description="Added after the order was placed (addItems).")


@strawberry.type(description="An item taken off the order after it was placed (voidItems).")
class VoidedItem:
    line: int
    name: str
    plu: str
    quantity: int
    station: str | None
    voided_at: datetime
    reason: str | None


@strawberry.type
class Discount:
    name: str
    affected_plu: str | None
    discount_reference: str | None
    code: str | None
    amount_total: Money
    amount_percentage: int | None


@strawberry.type
class TaxLine:
    id: str | None
    name: str | None
    affected_plu: str | None
    amount_percentage: int | None
    amount_total: Money


@strawberry.type
class Customer:
    id: str | None
    name: str | None
    email_address: str | None
    phone_number: str | None


@strawberry.type
class DineIn:
    table_id: str | None
    waiter_id: str | None
    party_id: str | None
    reservation_id: str | None
    ready_at: datetime | None


@strawberry.type
class Collection:
    asap: bool | None
    collect_at: datetime | None


@strawberry.type
class Payment:
    payment_intent_id: str
    paid_amount: Money
    tips_amount: Money
    status: PaymentStatus | None = strawberry.field(description="Latest known; null until Dojo reports one.")
    status_at: datetime | None
    source: PaymentSource
    counts: bool = strawberry.field(description="Whether it counts towards paidAmount.")


@strawberry.type
class Actor:
    kind: ActorKind
    name: str | None


@strawberry.type(name="HistoryEntry")
class HistoryEntryNode:
    at: datetime
    kind: ChangeKind
    from_status: OrderStatus | None
    to_status: OrderStatus | None
    actor: Actor
    waiter_id: str | None
    requesting_product: str | None
    device_id: str | None
    device_type: str | None
    detail: JSON | None


@strawberry.type(name="Order")
class OrderNode:
    id: strawberry.ID
    dojo_order_id: str | None
    reference: str | None
    display_name: str | None
    note: str | None
    status: OrderStatus
    order_type: OrderType
    dine_in: DineIn | None
    collection: Collection | None
    items: list[Item]
    voided_items: list[VoidedItem]
    discounts: list[Discount]
    tax_lines: list[TaxLine]
    service_charge: Money | None
    total_amount: Money
    customer: Customer | None
    payments: list[Payment]
    paid_amount: Money
    tips_amount: Money
    payable: bool
    created_at: datetime
    updated_at: datetime
    version: int

    @strawberry.field(description="Every status the lifecycle table allows next.")
    def allowed_moves(self) -> list[OrderStatus]:
        return sorted(lifecycle.NEXT[self.status], key=list(OrderStatus).index)

    @strawberry.field(description="Where a kitchen bump takes this order, if anywhere.")
    def bump_to(self) -> OrderStatus | None:
        return lifecycle.BUMP.get(self.status)

    @strawberry.field(description="Where a kitchen recall takes this order, if anywhere.")
    def recall_to(self) -> OrderStatus | None:
        return lifecycle.RECALL.get(self.status)

    @strawberry.field
    async def history(self, info: Info) -> list[HistoryEntryNode]:
        return [history_entry(entry) for entry in await info.context.histories.load(str(self.id))]


# -- from the domain ----------------------------------------------------------------------------


def order(order: DomainOrder) -> OrderNode:
    content, currency = order.content, order.currency
    details = content.details

    def money(value: int) -> Money:
        return Money(value=MinorUnits(value), currency_code=currency)

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

    def sub_item(item: OrderSubItem) -> SubItem:
        return SubItem(
            name=item.name,
            plu=item.plu,
            quantity=item.quantity,
            note=item.note,
            amount_per_item=money(item.amount_per_item.value),
            modifiers=modifiers(item),
        )

    def item(n: int, given: OrderItem, at: PrepLine | None) -> Item:
        return Item(
            **vars(sub_item(given)),
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


def history_entry(entry: HistoryEntry) -> HistoryEntryNode:
    actor = entry.actor
    return HistoryEntryNode(
        at=entry.at,
        kind=entry.kind,
        from_status=entry.from_status,
        to_status=entry.to_status,
        actor=Actor(kind=actor.kind, name=actor.name),
        waiter_id=actor.waiter_id,
        requesting_product=actor.requesting_product,
        device_id=actor.device_id,
        device_type=actor.device_type,
        detail=cast(JSON, entry.detail),
    )
