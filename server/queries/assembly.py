"""Loading whole orders: a fixed handful of statements, rows assembled into domain objects."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Final

import orjson
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.lifecycle import OrderStatus
from server.locks import Lock
from server.models import (
    DISCOUNTS,
    ITEMS,
    LOCKS,
    ORDERS,
    PAYMENTS,
    TAX_LINES,
)
from server.money import Money
from server.order import (
    CollectionDetails,
    Customer,
    DineInDetails,
    Discount,
    Modifier,
    Order,
    OrderContent,
    OrderDetails,
    OrderItem,
    OrderSubItem,
    OrderType,
    TaxLine,
    VoidedItem,
)
from server.payments import Payment, PaymentSource, PaymentStatus
from server.queries import grouped, rows
from server.stations import PrepLine


async def load_order(session: AsyncConnection, order_id: str) -> Order | None:
    orders = await load_orders(session, [order_id])
    return orders[0] if orders else None


CHUNK: Final = 50  # ~20 ms of the loop's time on a slow core

# The order with Dojo's lock on it, if any, in one statement.
_HEADS = select(ORDERS, LOCKS.c.lock_id, LOCKS.c.expiry).outerjoin(LOCKS, LOCKS.c.order_id == ORDERS.c.id)


async def load_orders(session: AsyncConnection, ids: Sequence[str]) -> list[Order]:
    """Whole orders, in the order of `ids`: five statements for each CHUNK of them, letting the
    event loop in between. SQLite runs on the loop's own thread (server/sqlite_inline.py), and
    reading and assembling a thousand orders in one go held every other request for ~0.4 s."""
    found: list[Order] = []
    for start in range(0, len(ids), CHUNK):
        if start:
            await asyncio.sleep(0)
        found += await _load_orders(session, ids[start : start + CHUNK])
    return found


async def _load_orders(session: AsyncConnection, ids: Sequence[str]) -> list[Order]:
    if not ids:
        return []
    heads = {row.id: row for row in await session.execute(_HEADS.where(ORDERS.c.id.in_(ids)))}
    found = list(heads)
    lines = grouped(await rows(session, ITEMS, ITEMS.c.order_id.in_(found), ITEMS.c.line))
    discounts = grouped(await rows(session, DISCOUNTS, DISCOUNTS.c.order_id.in_(found), DISCOUNTS.c.position))
    taxes = grouped(await rows(session, TAX_LINES, TAX_LINES.c.order_id.in_(found), TAX_LINES.c.position))
    payments = grouped(await rows(session, PAYMENTS, PAYMENTS.c.order_id.in_(found), PAYMENTS.c.position))
    return [
        _order(
            heads[order_id],
            lines[order_id],
            discounts[order_id],
            taxes[order_id],
            payments[order_id],
        )
        for order_id in ids
        if order_id in heads
    ]


def _order(
    head: Row[Any],
    lines: list[Row[Any]],
    discounts: list[Row[Any]],
    taxes: list[Row[Any]],
    payments: list[Row[Any]],
) -> Order:
    currency = head.currency

    def money(value: int) -> Money:
        return Money.of(value, currency)

    def mods(encoded: str | None) -> tuple[Modifier, ...]:
        return tuple(
            Modifier.model_construct(name=name, plu=plu, quantity=quantity, amount_per_modifier=money(amount))
            for name, plu, quantity, amount in (orjson.loads(encoded) if encoded else ())
        )

    def sub_item(row: Row[Any]) -> OrderSubItem:
        fields = {"name": row.name, "plu": row.plu, "quantity": row.quantity, "note": row.note}
        return OrderSubItem.model_construct(
            **fields, amount_per_item=money(row.amount_per_item), modifiers=mods(row.modifiers)
        )

    children: defaultdict[int, list[OrderSubItem]] = defaultdict(list)
    for row in lines:
        if row.parent_line is not None:
            children[row.parent_line].append(sub_item(row))

    def item(row: Row[Any]) -> OrderItem:
        return OrderItem.model_construct(**dict(sub_item(row)), sub_items=tuple(children[row.line]))

    tops = [row for row in lines if row.parent_line is None]
    live = [row for row in tops if row.voided_at is None]
    items = tuple(item(row) for row in live)
    content = OrderContent.model_construct(
        items=items,
        note=head.note,
        customer=_customer(head),
        discounts=tuple(_discount(row, money) for row in discounts),
        total_amount=money(head.total_amount),
        tax_lines=tuple(_tax(row, money) for row in taxes),
        service_charge_amount=money(head.service_charge_amount)
        if head.service_charge_amount is not None
        else None,
        reference=head.reference,
        details=_details(head),
        display_name=head.display_name,
    )
    return Order(
        id=head.id,
        dojo_order_id=head.dojo_order_id,
        status=OrderStatus(head.status),
        version=head.version,
        content=content,
        payments=tuple(_payment(row) for row in payments),
        created_at=head.created_at,
        updated_at=head.updated_at,
        lock=Lock(head.lock_id, head.expiry) if head.lock_id is not None else None,
        prep=tuple(
            PrepLine(row.line, row.station, row.routed_at or head.created_at, row.done_at)
            for row in live
            if row.station is not None
        ),
        voided=tuple(
            VoidedItem(row.line, item(row), row.station, row.voided_at, row.void_reason)
            for row in tops
            if row.voided_at is not None
        ),
    )


def _customer(head: Row[Any]) -> Customer | None:
    fields = {
        "id": head.customer_id,
        "name": head.customer_name,
        "email_address": head.customer_email,
        "phone_number": head.customer_phone,
    }
    return Customer.model_construct(**fields) if any(v is not None for v in fields.values()) else None


def _details(head: Row[Any]) -> OrderDetails:
    order_type = OrderType(head.order_type)
    dine_in = {name: getattr(head, name) for name in DineInDetails.model_fields}
    collection = {"asap": head.collect_asap, "collect_at": head.collect_at}
    has_dine_in = order_type is OrderType.DINE_IN or any(v is not None for v in dine_in.values())
    has_collection = order_type is OrderType.COLLECTION or any(v is not None for v in collection.values())
    return OrderDetails.model_construct(
        order_type=order_type,
        dine_in=DineInDetails.model_construct(**dine_in) if has_dine_in else None,
        collection=CollectionDetails.model_construct(**collection) if has_collection else None,
    )


def _discount(row: Row[Any], money: Any) -> Discount:
    fields = {name: getattr(row, name) for name in Discount.model_fields}
    return Discount.model_construct(**{**fields, "amount_total": money(row.amount_total)})


def _tax(row: Row[Any], money: Any) -> TaxLine:
    fields = {name: getattr(row, name) for name in TaxLine.model_fields if name != "id"}
    return TaxLine.model_construct(**{**fields, "id": row.tax_id, "amount_total": money(row.amount_total)})


def _payment(row: Row[Any]) -> Payment:
    return Payment(
        payment_intent_id=row.payment_intent_id,
        paid_amount=row.paid_amount,
        tips_amount=row.tips_amount,
        source=PaymentSource(row.source),
        status=PaymentStatus(row.status) if row.status else None,
        status_at=row.status_at,
    )
