"""Orders in and out of their tables: an Order written as rows and read back from them, and
the statements that find, move and count orders. Nothing here commits."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson
from sqlalchemy import Row, Table, exists, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.lifecycle import ACTIVE, TERMINAL, OrderStatus
from server.models import (
    DISCOUNTS,
    ITEMS,
    LOCKS,
    ORDERS,
    PAYMENTS,
    TAX_LINES,
)
from server.money import Money
from server.orders.model import (
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
    VoidedItem,
)
from server.paging import Key, SearchFilters
from server.payments.model import Lock, Payment, PaymentSource, PaymentStatus
from server.payments.rows import payment_row
from server.sql import grouped, insert_ignoring, insert_many, rows
from server.stations.routing import PrepLine

# -- writing an order ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewOrder:
    order_id: str
    draft: OrderDraft
    status: OrderStatus
    payments: tuple[Payment, ...]
    fingerprint: str
    client_key: str | None
    prep: tuple[PrepLine, ...] = ()  # where each item went (server/stations/routing.py)


async def insert_orders(session: AsyncConnection, news: Sequence[NewOrder], *, now: datetime) -> set[str]:
    """Insert orders and all their lines, one statement per table however many there are; the ids
    inserted (an order whose Dojo id or client key another process just took is left out)."""
    heads = [
        _order_row(n.order_id, n.draft, n.status, n.payments, n.fingerprint, now)
        | {"client_key": n.client_key}
        for n in news
    ]
    inserted = set(
        (await session.execute(insert_ignoring(session, ORDERS).returning(ORDERS.c.id), heads)).scalars()
    )
    tables: dict[Table, list[dict[str, Any]]] = {
        ITEMS: [],
        DISCOUNTS: [],
        TAX_LINES: [],
        PAYMENTS: [],
    }
    for new in news:
        if new.order_id not in inserted:
            continue
        tables[ITEMS] += _line_rows(new.order_id, new.draft.items, new.prep)
        tables[DISCOUNTS] += [_dump(new.order_id, n, d) for n, d in enumerate(new.draft.discounts)]
        tables[TAX_LINES] += [_tax_row(new.order_id, n, t) for n, t in enumerate(new.draft.tax_lines)]
        tables[PAYMENTS] += [payment_row(new.order_id, n, p, now) for n, p in enumerate(new.payments)]
    for table, found in tables.items():
        await insert_many(session, table, found)
    return inserted


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
    order_id: str, items: Sequence[OrderItem], prep: Sequence[PrepLine], *, first_line: int = 1
) -> list[dict[str, Any]]:
    """Items take lines first_line.. in order, each with its station; sub-items follow, each
    naming its parent's line."""
    lines: list[dict[str, Any]] = []
    stations = {p.line: p for p in prep}

    def add(item: OrderSubItem, parent: int | None) -> int:
        line = first_line + len(lines)
        at = stations.get(line) if parent is None else None
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
                "modifiers": _modifiers(item.modifiers),
                "station": at.station if at else None,
                "routed_at": at.routed_at if at else None,
                "done_at": None,
            }
        )
        return line

    parents = [add(item, None) for item in items]
    for item, parent in zip(items, parents, strict=True):
        for sub_item in item.sub_items:
            add(sub_item, parent)
    return lines


async def next_line(session: AsyncConnection, order_id: str) -> int:
    """The line after every line (item or sub-item) the order has: where added items start."""
    query = select(func.coalesce(func.max(ITEMS.c.line), 0)).where(ITEMS.c.order_id == order_id)
    return int((await session.execute(query)).scalar_one()) + 1


async def insert_items(
    session: AsyncConnection, order_id: str, items: Sequence[OrderItem], prep: Sequence[PrepLine]
) -> None:
    """Items added to a placed order, on the lines `prep` gives them (from `next_line`)."""
    await insert_many(session, ITEMS, _line_rows(order_id, items, prep, first_line=prep[0].line))


async def void_lines(
    session: AsyncConnection, order_id: str, lines: Sequence[int], *, at: datetime, reason: str | None
) -> None:
    where = (ITEMS.c.order_id == order_id) & ITEMS.c.line.in_(lines) & ITEMS.c.parent_line.is_(None)
    await session.execute(update(ITEMS).where(where).values(voided_at=at, void_reason=reason))


def _modifiers(modifiers: Sequence[Modifier]) -> str | None:
    if not modifiers:
        return None
    return orjson.dumps(
        [[m.name, m.plu, m.quantity, m.amount_per_modifier.value] for m in modifiers]
    ).decode()


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


async def find_placed_many(
    session: AsyncConnection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str, str | None]]:
    """The orders already placed under these keys (("dojo", dojoOrderId) or ("client", key)):
    their ids and fingerprints."""
    dojo_ids = [value for kind, value in keys if kind == "dojo"]
    client_keys = [value for kind, value in keys if kind == "client"]
    if not keys:
        return {}
    query = select(ORDERS.c.id, ORDERS.c.fingerprint, ORDERS.c.dojo_order_id, ORDERS.c.client_key).where(
        or_(ORDERS.c.dojo_order_id.in_(dojo_ids), ORDERS.c.client_key.in_(client_keys))
    )
    found: dict[tuple[str, str], tuple[str, str | None]] = {}
    for row in await session.execute(query):
        if row.dojo_order_id in dojo_ids:
            found[("dojo", row.dojo_order_id)] = (row.id, row.fingerprint)
        if row.client_key in client_keys:
            found[("client", row.client_key)] = (row.id, row.fingerprint)
    return found


async def order_exists(session: AsyncConnection, order_id: str) -> bool:
    return (await session.execute(select(ORDERS.c.id).where(ORDERS.c.id == order_id))).first() is not None


# -- searching ----------------------------------------------------------------------------------


async def search_ids(
    session: AsyncConnection, *, where: Sequence[Any], after: Key | None, before: Key | None, limit: int
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


async def count(session: AsyncConnection, where: Sequence[Any]) -> int:
    query = select(func.count()).select_from(ORDERS).where(*where)
    return int((await session.execute(query)).scalar_one())


def open_where(
    statuses: Collection[OrderStatus], *, collection_only: bool = False, station: str | None = None
) -> list[Any]:
    """Open orders in these statuses; collection orders only; or those with an item still to make
    at a station (what a kitchen screen shows, so its limit counts only its own tickets)."""
    where: list[Any] = [ORDERS.c.status.in_([s.value for s in statuses if s in ACTIVE])]
    if collection_only:
        where.append(ORDERS.c.order_type == OrderType.COLLECTION.value)
    if station is not None:
        undone = (
            (ITEMS.c.order_id == ORDERS.c.id)
            & (ITEMS.c.station == station)
            & ITEMS.c.parent_line.is_(None)
            & ITEMS.c.voided_at.is_(None)
            & ITEMS.c.done_at.is_(None)
        )
        where.append(exists().where(undone))
    return where


async def key_of(session: AsyncConnection, order_id: str) -> Key | None:
    """Where an order stands in the oldest-first walk."""
    query = select(ORDERS.c.created_at, ORDERS.c.id).where(ORDERS.c.id == order_id)
    row = (await session.execute(query)).first()
    return Key(row.created_at, row.id) if row else None


async def status_counts(session: AsyncConnection, *, since: datetime | None) -> dict[OrderStatus, int]:
    query = select(ORDERS.c.status, func.count()).group_by(ORDERS.c.status)
    if since is not None:
        query = query.where(ORDERS.c.created_at >= since)
    return {OrderStatus(status): int(n) for status, n in await session.execute(query)}


# -- moving an order ----------------------------------------------------------------------------


async def save_state(
    session: AsyncConnection,
    order: Order,
    *,
    status: OrderStatus | None = None,
    paid_amount: int | None = None,
    total_amount: int | None = None,
    now: datetime,
) -> bool:
    """Write a new status, paid or total amount if nobody else changed the order since it was read."""
    values: dict[str, Any] = {"version": order.version + 1, "updated_at": now}
    if total_amount is not None:
        values["total_amount"] = total_amount
    if status is not None:
        values["status"] = status.value
    if paid_amount is not None:
        values["paid_amount"] = paid_amount
    statement = (
        update(ORDERS).where(ORDERS.c.id == order.id, ORDERS.c.version == order.version).values(values)
    )
    result = await session.execute(statement)
    return bool(result.rowcount)


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
