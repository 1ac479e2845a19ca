"""Named queries: how orders, their lines, payments, history and changes go in and out of the
tables. Core statements, batched per table, so placing or loading an order costs a fixed
handful of statements however many items it has. Nothing here commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Row, Table, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from server.actors import Actor, ActorKind
from server.changes import ChangeKind
from server.history import HistoryEntry
from server.lifecycle import TERMINAL, OrderStatus
from server.models import (
    CHANGES,
    DISCOUNTS,
    HISTORY,
    ITEMS,
    MODIFIERS,
    ORDERS,
    PAYMENT_EVENTS,
    PAYMENTS,
    TAX_LINES,
)
from server.money import Money
from server.order import (
    CollectionDetails,
    Content,
    Customer,
    DineInDetails,
    Discount,
    Modifier,
    Order,
    OrderContent,
    OrderDetails,
    OrderDraft,
    OrderItem,
    OrderSubItem,
    OrderType,
    TaxLine,
)
from server.paging import Key
from server.payments import Event, Payment, PaymentSource, PaymentStatus

# -- writing an order ---------------------------------------------------------------------------


async def insert_order(
    session: AsyncSession,
    *,
    order_id: str,
    draft: OrderDraft,
    status: OrderStatus,
    payments: Sequence[Payment],
    fingerprint: str | None,
    now: datetime,
) -> bool:
    """Insert an order and all its lines; False (and nothing written) if its Dojo id is taken."""
    statement = _insert_ignoring(session, ORDERS, "dojo_order_id").returning(ORDERS.c.id)
    inserted = await session.execute(
        statement, [_order_row(order_id, draft, status, payments, fingerprint, now)]
    )
    if inserted.first() is None:
        return False
    items, modifiers = _line_rows(order_id, draft.items)
    for table, rows in (
        (ITEMS, items),
        (MODIFIERS, modifiers),
        (DISCOUNTS, [_dump(order_id, n, d) for n, d in enumerate(draft.discounts)]),
        (TAX_LINES, [_tax_row(order_id, n, t) for n, t in enumerate(draft.tax_lines)]),
        (PAYMENTS, [_payment_row(order_id, n, p, now) for n, p in enumerate(payments)]),
    ):
        if rows:
            await session.execute(insert(table), rows)
    return True


def _order_row(
    order_id: str,
    draft: OrderDraft,
    status: OrderStatus,
    payments: Sequence[Payment],
    fingerprint: str | None,
    now: datetime,
) -> dict[str, Any]:
    dine_in = draft.details.dine_in or DineInDetails()
    collection = draft.details.collection or CollectionDetails()
    customer = draft.customer or Customer()
    return {
        "id": order_id,
        "dojo_order_id": draft.dojo_order_id,
        "fingerprint": fingerprint,
        "status": status.value,
        "version": 1,
        "order_type": draft.details.order_type.value,
        **dine_in.model_dump(),
        "collect_asap": collection.asap,
        "collect_at": collection.collect_at,
        "reference": draft.reference,
        "display_name": draft.display_name,
        "note": draft.note,
        "currency": draft.currency,
        "total_amount": draft.total_amount.value,
        "service_charge_amount": draft.service_charge_amount.value if draft.service_charge_amount else None,
        "paid_amount": sum(p.paid_amount for p in payments if p.counts),
        "customer_id": customer.id,
        "customer_name": customer.name,
        "customer_email": customer.email_address,
        "customer_phone": customer.phone_number,
        "created_at": now,
        "updated_at": now,
    }


def _line_rows(
    order_id: str, items: Sequence[OrderItem]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Items take lines 1..n in order; sub-items follow, each naming its parent's line."""
    lines: list[dict[str, Any]] = []
    modifiers: list[dict[str, Any]] = []

    def add(item: OrderSubItem, parent: int | None) -> int:
        line = len(lines) + 1
        lines.append(
            {
                "order_id": order_id,
                "line": line,
                "parent_line": parent,
                "name": item.name,
                "plu": item.plu,
                "quantity": item.quantity,
                "amount_per_item": item.amount_per_item.value,
                "note": item.note,
            }
        )
        modifiers.extend(_dump(order_id, n, m, line=line) for n, m in enumerate(item.modifiers))
        return line

    parents = [add(item, None) for item in items]
    for item, parent in zip(items, parents, strict=True):
        for sub_item in item.sub_items:
            add(sub_item, parent)
    return lines, modifiers


def _dump(order_id: str, position: int, model: Content, **extra: Any) -> dict[str, Any]:
    """A line's own fields, with Money reduced to its value (the order holds the currency)."""
    row = {name: getattr(model, name) for name in type(model).model_fields}
    return {
        "order_id": order_id,
        "position": position,
        **extra,
        **{name: value.value if isinstance(value, Money) else value for name, value in row.items()},
    }


def _tax_row(order_id: str, position: int, tax: TaxLine) -> dict[str, Any]:
    row = _dump(order_id, position, tax)
    row["tax_id"] = row.pop("id")
    return row


def _payment_row(order_id: str, position: int, payment: Payment, now: datetime) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "position": position,
        "payment_intent_id": payment.payment_intent_id,
        "paid_amount": payment.paid_amount,
        "tips_amount": payment.tips_amount,
        "source": payment.source.value,
        "status": payment.status.value if payment.status else None,
        "status_at": payment.status_at,
        "created_at": now,
    }


def _insert_ignoring(session: AsyncSession, table: Table, *targets: str) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING, in the current dialect."""
    dialect = session.get_bind().dialect.name
    statement = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    return statement.on_conflict_do_nothing(index_elements=list(targets) or None)


# -- reading orders -----------------------------------------------------------------------------


async def find_fingerprint(session: AsyncSession, dojo_order_id: str) -> tuple[str, str | None] | None:
    query = select(ORDERS.c.id, ORDERS.c.fingerprint).where(ORDERS.c.dojo_order_id == dojo_order_id)
    row = (await session.execute(query)).first()
    return (row.id, row.fingerprint) if row else None


async def order_exists(session: AsyncSession, order_id: str) -> bool:
    return (await session.execute(select(ORDERS.c.id).where(ORDERS.c.id == order_id))).first() is not None


async def load_order(session: AsyncSession, order_id: str) -> Order | None:
    orders = await load_orders(session, [order_id])
    return orders[0] if orders else None


async def load_orders(session: AsyncSession, ids: Sequence[str]) -> list[Order]:
    """Whole orders, in the order of `ids`, in six statements however many there are."""
    if not ids:
        return []
    heads = {row.id: row for row in await _rows(session, ORDERS, ORDERS.c.id.in_(ids))}
    found = list(heads)
    lines = _grouped(await _rows(session, ITEMS, ITEMS.c.order_id.in_(found), ITEMS.c.line))
    modifiers = _grouped(
        await _rows(
            session, MODIFIERS, MODIFIERS.c.order_id.in_(found), MODIFIERS.c.line, MODIFIERS.c.position
        ),
        key=lambda row: (row.order_id, row.line),
    )
    discounts = _grouped(
        await _rows(session, DISCOUNTS, DISCOUNTS.c.order_id.in_(found), DISCOUNTS.c.position)
    )
    taxes = _grouped(await _rows(session, TAX_LINES, TAX_LINES.c.order_id.in_(found), TAX_LINES.c.position))
    payments = _grouped(await _rows(session, PAYMENTS, PAYMENTS.c.order_id.in_(found), PAYMENTS.c.position))
    return [
        _order(
            heads[order_id],
            lines[order_id],
            modifiers,
            discounts[order_id],
            taxes[order_id],
            payments[order_id],
        )
        for order_id in ids
        if order_id in heads
    ]


async def _rows(session: AsyncSession, table: Table, where: Any, *order_by: Any) -> Sequence[Row[Any]]:
    return (await session.execute(select(table).where(where).order_by(*order_by))).all()


def _grouped(
    rows: Iterable[Row[Any]], key: Any = lambda row: row.order_id
) -> defaultdict[Any, list[Row[Any]]]:
    groups: defaultdict[Any, list[Row[Any]]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return groups


def _order(
    head: Row[Any],
    lines: list[Row[Any]],
    modifiers: dict[Any, list[Row[Any]]],
    discounts: list[Row[Any]],
    taxes: list[Row[Any]],
    payments: list[Row[Any]],
) -> Order:
    currency = head.currency

    def money(value: int) -> Money:
        return Money.of(value, currency)

    def mods(line: int) -> tuple[Modifier, ...]:
        return tuple(
            Modifier.model_construct(
                name=m.name, quantity=m.quantity, amount_per_modifier=money(m.amount_per_modifier), plu=m.plu
            )
            for m in modifiers.get((head.id, line), ())
        )

    def sub_item(row: Row[Any]) -> OrderSubItem:
        fields = {"name": row.name, "plu": row.plu, "quantity": row.quantity, "note": row.note}
        return OrderSubItem.model_construct(
            **fields, amount_per_item=money(row.amount_per_item), modifiers=mods(row.line)
        )

    children: defaultdict[int, list[OrderSubItem]] = defaultdict(list)
    for row in lines:
        if row.parent_line is not None:
            children[row.parent_line].append(sub_item(row))
    items = tuple(
        OrderItem.model_construct(**dict(sub_item(row)), sub_items=tuple(children[row.line]))
        for row in lines
        if row.parent_line is None
    )
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


# -- searching ----------------------------------------------------------------------------------


async def search_ids(
    session: AsyncSession, *, where: Sequence[Any], after: Key | None, before: Key | None, limit: int
) -> tuple[list[str], bool]:
    """Ids of one page, oldest first, and whether more lie beyond it in the walk's direction."""
    key = tuple_(ORDERS.c.created_at, ORDERS.c.id)
    conditions = list(where)
    if after is not None:
        conditions.append(key > tuple_(after.created_at, after.id))
    if before is not None:
        conditions.append(key < tuple_(before.created_at, before.id))
    columns = (ORDERS.c.created_at, ORDERS.c.id)
    order = [c.desc() for c in columns] if before is not None else list(columns)
    query = select(ORDERS.c.id).where(*conditions).order_by(*order).limit(limit + 1)
    ids = list((await session.scalars(query)).all())
    more = len(ids) > limit
    ids = ids[:limit]
    return (ids[::-1] if before is not None else ids), more


def filters(
    *,
    table_id: str | None = None,
    waiter_id: str | None = None,
    party_id: str | None = None,
    reservation_id: str | None = None,
    payable_only: bool = False,
) -> list[Any]:
    columns = {
        "table_id": table_id,
        "waiter_id": waiter_id,
        "party_id": party_id,
        "reservation_id": reservation_id,
    }
    where = [ORDERS.c[name] == value for name, value in columns.items() if value is not None]
    if payable_only:
        where.append(ORDERS.c.status.not_in([status.value for status in TERMINAL]))
        where.append(ORDERS.c.paid_amount < ORDERS.c.total_amount)
    return where


# -- moving an order ----------------------------------------------------------------------------


async def save_state(
    session: AsyncSession,
    order: Order,
    *,
    status: OrderStatus | None = None,
    paid_amount: int | None = None,
    now: datetime,
) -> bool:
    """Write a new status or paid amount if nobody else changed the order since it was read."""
    values: dict[str, Any] = {"version": order.version + 1, "updated_at": now}
    if status is not None:
        values["status"] = status.value
    if paid_amount is not None:
        values["paid_amount"] = paid_amount
    statement = (
        update(ORDERS).where(ORDERS.c.id == order.id, ORDERS.c.version == order.version).values(values)
    )
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


# -- payments and Dojo's events -----------------------------------------------------------------


async def owners_of(session: AsyncSession, intent_ids: Sequence[str]) -> dict[str, str]:
    """Which order already holds each of these payment intents."""
    query = select(PAYMENTS.c.payment_intent_id, PAYMENTS.c.order_id).where(
        PAYMENTS.c.payment_intent_id.in_(intent_ids)
    )
    return {row.payment_intent_id: row.order_id for row in await session.execute(query)}


async def latest_events(session: AsyncSession, intent_ids: Sequence[str]) -> dict[str, Row[Any]]:
    """The newest event (by Dojo's createdAt) already received for each of these intents."""
    query = (
        select(PAYMENT_EVENTS)
        .where(PAYMENT_EVENTS.c.payment_intent_id.in_(intent_ids))
        .order_by(PAYMENT_EVENTS.c.created_at)
    )
    return {row.payment_intent_id: row for row in await session.execute(query)}


async def record_event(session: AsyncSession, event: Event, *, now: datetime) -> bool:
    """Store a payment event once; False if its id, or its intent and status, was seen before."""
    data = event.payment()
    row = {
        "id": event.id,
        "account_id": event.account_id,
        "event_type": event.event,
        "payment_intent_id": data.payment_intent_id,
        "payment_status": data.payment_status.value,
        "capture_mode": data.capture_mode,
        "created_at": event.created_at,
        "received_at": now,
    }
    result = await session.execute(
        _insert_ignoring(session, PAYMENT_EVENTS).returning(PAYMENT_EVENTS.c.id), [row]
    )
    return result.first() is not None


async def payment_owner(session: AsyncSession, intent_id: str) -> str | None:
    query = select(PAYMENTS.c.order_id).where(PAYMENTS.c.payment_intent_id == intent_id)
    return (await session.execute(query)).scalar_one_or_none()


async def set_payment_status(
    session: AsyncSession, intent_id: str, status: PaymentStatus, status_at: datetime
) -> None:
    statement = (
        update(PAYMENTS)
        .where(PAYMENTS.c.payment_intent_id == intent_id)
        .values(status=status.value, status_at=status_at)
    )
    await session.execute(statement)


# -- history and changes ------------------------------------------------------------------------


async def append_history(session: AsyncSession, entries: Sequence[HistoryEntry]) -> None:
    rows = [
        {
            "order_id": entry.order_id,
            "at": entry.at,
            "kind": entry.kind.value,
            "from_status": entry.from_status.value if entry.from_status else None,
            "to_status": entry.to_status.value if entry.to_status else None,
            "actor": entry.actor.label,
            "waiter_id": entry.actor.waiter_id,
            "requesting_product": entry.actor.requesting_product,
            "device_id": entry.actor.device_id,
            "device_type": entry.actor.device_type,
            "detail": orjson.dumps(entry.detail).decode() if entry.detail else None,
        }
        for entry in entries
    ]
    await session.execute(insert(HISTORY), rows)


async def append_change(session: AsyncSession, order_id: str, kind: ChangeKind, *, now: datetime) -> int:
    statement = (
        insert(CHANGES).values(order_id=order_id, kind=kind.value, at=now).returning(CHANGES.c.sequence)
    )
    return int((await session.execute(statement)).scalar_one())


async def history_of(session: AsyncSession, order_id: str) -> list[HistoryEntry]:
    rows = await _rows(session, HISTORY, HISTORY.c.order_id == order_id, HISTORY.c.id)
    return [_history_entry(row) for row in rows]


def _history_entry(row: Row[Any]) -> HistoryEntry:
    kind, _, name = row.actor.partition(":")
    actor = Actor(
        ActorKind(kind), name or None, row.waiter_id, row.requesting_product, row.device_id, row.device_type
    )
    return HistoryEntry(
        order_id=row.order_id,
        at=row.at,
        kind=ChangeKind(row.kind),
        actor=actor,
        from_status=OrderStatus(row.from_status) if row.from_status else None,
        to_status=OrderStatus(row.to_status) if row.to_status else None,
        detail=orjson.loads(row.detail) if row.detail else None,
    )
