"""Writing, moving and finding orders."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.lifecycle import ACTIVE, TERMINAL, OrderStatus
from server.models import (
    DISCOUNTS,
    ITEMS,
    MODIFIERS,
    ORDERS,
    PAYMENTS,
    TAX_LINES,
)
from server.money import Money
from server.order import (
    CollectionDetails,
    Content,
    Customer,
    DineInDetails,
    Order,
    OrderDraft,
    OrderItem,
    OrderSubItem,
    TaxLine,
)
from server.paging import Key, SearchFilters
from server.payments import Payment
from server.queries import insert_ignoring
from server.queries.payments import payment_row

# -- writing an order ---------------------------------------------------------------------------


async def insert_order(
    session: AsyncSession,
    *,
    order_id: str,
    draft: OrderDraft,
    status: OrderStatus,
    payments: Sequence[Payment],
    fingerprint: str,
    client_key: str | None,
    now: datetime,
) -> bool:
    """Insert an order and all its lines; False (and nothing written) if its Dojo id or client
    key is taken."""
    row = _order_row(order_id, draft, status, payments, fingerprint, now) | {"client_key": client_key}
    inserted = await session.execute(insert_ignoring(session, ORDERS).returning(ORDERS.c.id), [row])
    if inserted.first() is None:
        return False
    items, modifiers = _line_rows(order_id, draft.items)
    for table, rows in (
        (ITEMS, items),
        (MODIFIERS, modifiers),
        (DISCOUNTS, [_dump(order_id, n, d) for n, d in enumerate(draft.discounts)]),
        (TAX_LINES, [_tax_row(order_id, n, t) for n, t in enumerate(draft.tax_lines)]),
        (PAYMENTS, [payment_row(order_id, n, p, now) for n, p in enumerate(payments)]),
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


async def find_placed(
    session: AsyncSession, *, dojo_order_id: str | None, client_key: str | None
) -> tuple[str, str | None] | None:
    """The id and fingerprint of the order already placed under this Dojo id or client key."""
    if dojo_order_id is None and client_key is None:
        return None
    where = ORDERS.c.dojo_order_id == dojo_order_id if dojo_order_id else ORDERS.c.client_key == client_key
    row = (await session.execute(select(ORDERS.c.id, ORDERS.c.fingerprint).where(where))).first()
    return (row.id, row.fingerprint) if row else None


async def order_exists(session: AsyncSession, order_id: str) -> bool:
    return (await session.execute(select(ORDERS.c.id).where(ORDERS.c.id == order_id))).first() is not None


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


def filters(search: SearchFilters) -> list[Any]:
    columns = {
        "table_id": search.table_id,
        "waiter_id": search.waiter_id,
        "party_id": search.party_id,
        "reservation_id": search.reservation_id,
    }
    where: list[Any] = [ORDERS.c[name] == value for name, value in columns.items() if value is not None]
    if search.payable_only:
        where.append(ORDERS.c.status.not_in([status.value for status in TERMINAL]))
        where.append(ORDERS.c.paid_amount < ORDERS.c.total_amount)
    if search.statuses:
        where.append(ORDERS.c.status.in_([status.value for status in search.statuses]))
    if search.order_type is not None:
        where.append(ORDERS.c.order_type == search.order_type.value)
    if search.created_after is not None:
        where.append(ORDERS.c.created_at >= search.created_after)
    if search.created_before is not None:
        where.append(ORDERS.c.created_at < search.created_before)
    if search.text:
        text = search.text.strip()
        where.append(
            or_(
                ORDERS.c.reference.icontains(text, autoescape=True),
                ORDERS.c.display_name.icontains(text, autoescape=True),
            )
        )
    return where


async def count(session: AsyncSession, where: Sequence[Any]) -> int:
    query = select(func.count()).select_from(ORDERS).where(*where)
    return int((await session.execute(query)).scalar_one())


async def active_ids(session: AsyncSession, *, limit: int) -> list[str]:
    """Every order that is not terminal, oldest first: what a kitchen screen loads."""
    query = (
        select(ORDERS.c.id)
        .where(ORDERS.c.status.in_([status.value for status in ACTIVE]))
        .order_by(ORDERS.c.created_at, ORDERS.c.id)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def status_counts(session: AsyncSession, *, since: datetime) -> dict[OrderStatus, int]:
    query = (
        select(ORDERS.c.status, func.count()).where(ORDERS.c.created_at >= since).group_by(ORDERS.c.status)
    )
    return {OrderStatus(status): int(n) for status, n in await session.execute(query)}


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
