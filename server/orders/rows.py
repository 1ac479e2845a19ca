"""An Order in its tables and back: the one mapping, both directions side by side, and the
statements that write, load and move whole orders. Nothing here commits.

The order's head row holds its content flat. Wherever a content field and a column share a
name (with a part's prefix: `customer_name`, `collect_asap`) the mapping is written from the
model's fields, so a new field of Dojo's Order needs its column and nothing here. Items, their
modifiers, discounts, tax lines and payments have tables of their own, loaded five statements
for any number of orders.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Final, TypeVar, get_args

import orjson
from sqlalchemy import BindParameter, Connection, Table, bindparam, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.errors import NotFound
from server.lifecycle import OrderStatus, ready_mark
from server.models import DISCOUNTS, ITEM_ADDITIONS, ITEMS, LOCKS, ORDERS, PAYMENTS, TAPS, TAX_LINES
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
from server.payments.model import Lock, Payment
from server.payments.rows import payment_of, payment_row
from server.records import Record, fetch, reading, select_all
from server.sql import grouped, insert_ignoring, insert_many, insert_returning, insert_values, writers_overlap
from server.stations.routing import PrepLine
from server.trusted import trusted

C = TypeVar("C", bound=Content)
CHUNK: Final = 100  # orders loaded per round of statements: ~8 ms of the loop's time here (bench/reads.py)

# -- the content's flat parts: one mapping, both directions ----------------------------------------


def _stored(value: Any) -> Any:
    return value.value if isinstance(value, Money) else value


def _money(value: int | None, currency: str) -> Money | None:
    return None if value is None else Money.of(value, currency)


def _is_money(annotation: Any) -> bool:
    return annotation is Money or Money in get_args(annotation)  # Money, or Money | None however spelled


@dataclass(frozen=True, slots=True)
class Flat:
    """A part of an order's content kept on its head row: each field in the column named
    `prefix + field` (or the field itself, when it already starts with the prefix), unless
    `renamed`; Money as its value, since the row holds the order's one currency."""

    model: type[Content]
    prefix: str = ""
    renamed: Mapping[str, str] = field(default_factory=dict)
    # (field, column, whether it holds Money) for each field with a column: worked out once, as
    # every order written or read walks it
    plan: tuple[tuple[str, str, bool], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fields = self.model.model_fields
        found = ((name, self._column(name)) for name in fields)
        plan = tuple((n, c, _is_money(fields[n].annotation)) for n, c in found if c in ORDERS.c)
        object.__setattr__(self, "plan", plan)

    def columns(self) -> dict[str, str]:
        """Field name -> column name, for the fields that have a column."""
        return {name: column for name, column, _ in self.plan}

    def written(self, part: Content | None) -> dict[str, Any]:
        return {column: _stored(getattr(part, name, None)) for name, column, _ in self.plan}

    def read(self, head: Record) -> dict[str, Any]:
        currency = head.currency
        return {
            name: _money(getattr(head, column), currency) if money else getattr(head, column)
            for name, column, money in self.plan
        }

    def _column(self, name: str) -> str:
        if name in self.renamed:
            return self.renamed[name]
        return name if name.startswith(self.prefix) else self.prefix + name


HEAD: Final = Flat(OrderContent)  # reference, note, display name, total, service charge, ...
DINE_IN: Final = Flat(DineInDetails)
COLLECTION: Final = Flat(CollectionDetails, prefix="collect_")
CUSTOMER: Final = Flat(
    Customer,
    prefix="customer_",
    renamed={"email_address": "customer_email", "phone_number": "customer_phone"},
)


# -- an order as rows ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewOrder:
    order_id: str
    draft: OrderDraft
    status: OrderStatus
    payments: tuple[Payment, ...]
    fingerprint: str
    client_key: str | None
    prep: tuple[PrepLine, ...] = ()  # where each item went (server/stations/routing.py)
    requesting_product: str | None = None  # the Dojo product that placed it


def head_row(new: NewOrder, *, now: datetime) -> dict[str, Any]:
    draft, details = new.draft, new.draft.details
    return {
        **HEAD.written(draft),
        **DINE_IN.written(details.dine_in),
        **COLLECTION.written(details.collection),
        **CUSTOMER.written(draft.customer),
        "id": new.order_id,
        "dojo_order_id": draft.dojo_order_id,
        "client_key": new.client_key,
        "fingerprint": new.fingerprint,
        "requesting_product": new.requesting_product,
        "status": new.status.value,
        "version": 1,
        "order_type": details.order_type.value,
        "currency": draft.currency,
        "paid_amount": sum(p.paid_amount for p in new.payments if p.counts),
        "created_at": now,
        "updated_at": now,
    }


# An item line's columns, in the order `line_values` gives them.
LINE_COLUMNS: Final = (
    "order_id", "line", "parent_line", "name", "plu", "quantity", "amount_per_item", "note", "modifiers",
    "station", "routed_at", "done_at",
)  # fmt: skip


def line_values(
    order_id: str, items: Sequence[OrderItem], prep: Sequence[PrepLine], *, first_line: int = 1
) -> list[tuple[Any, ...]]:
    """Items take lines first_line.. in order, each with its station; sub-items follow, each
    naming its parent's line. A row is a tuple of LINE_COLUMNS' values: CreateOrder writes ~7
    lines an order, and a dict a line (then read back into a tuple) was most of their cost."""
    stations = {p.line: p for p in prep}
    lines = []
    for line, item in enumerate(items, start=first_line):
        at = stations.get(line)
        lines.append(
            _line_value(order_id, line, None, item, at.station if at else None, at.routed_at if at else None)
        )
    line = first_line + len(items)
    for parent, item in enumerate(items, start=first_line):
        for sub_item in item.sub_items:
            lines.append(_line_value(order_id, line, parent, sub_item, None, None))
            line += 1
    return lines


def _line_value(
    order_id: str, line: int, parent: int | None, item: OrderSubItem, station: str | None, at: datetime | None
) -> tuple[Any, ...]:
    price, modifiers = item.amount_per_item.value, _modifiers(item.modifiers)
    return (
        order_id,
        line,
        parent,
        item.name,
        item.plu,
        item.quantity,
        price,
        item.note,
        modifiers,
        station,
        at,
        None,
    )


def _modifiers(modifiers: Sequence[Modifier]) -> str | None:
    if not modifiers:
        return None
    return orjson.dumps(
        [[m.name, m.plu, m.quantity, m.amount_per_modifier.value] for m in modifiers]
    ).decode()


def part_row(order_id: str, position: int, model: Content) -> dict[str, Any]:
    """A discount's or tax line's own fields, Money as its value; a tax line's `id` is `tax_id`."""
    fields = {_part_column(name): _stored(getattr(model, name)) for name in type(model).model_fields}
    return {"order_id": order_id, "position": position, **fields}


def _part_column(name: str) -> str:
    return "tax_id" if name == "id" else name


# -- rows as an order ---------------------------------------------------------------------------


def order_of(head: Record, lines: Sequence[Record], parts: Mapping[Table, Sequence[Record]]) -> Order:
    """The order these rows hold. An order read again unchanged is built once: every screen
    fetches a ticket after every change to it, a board reads every open order, and building one
    cost ~30 us (bench/reads.py). The rows are the key, compared value by value, so a change to
    any of them is another order; an Order is frozen all the way down, so sharing one is safe."""
    kept = (tuple(parts[DISCOUNTS]), tuple(parts[TAX_LINES]), tuple(parts[PAYMENTS]))
    return _built(head, tuple(lines), *kept)


# A full board (ORDERPASS_KDS_BOARD_LIMIT, 1000) and more: ~14 KB each with its rows, ~15 MB at most.
KEPT_ORDERS: Final = 1024


@lru_cache(maxsize=KEPT_ORDERS)
def _built(
    head: Record,
    lines: tuple[Record, ...],
    discounts: tuple[Record, ...],
    tax_lines: tuple[Record, ...],
    payments: tuple[Record, ...],
) -> Order:
    parts = {DISCOUNTS: discounts, TAX_LINES: tax_lines, PAYMENTS: payments}
    currency = head.currency
    children: defaultdict[int, list[OrderSubItem]] = defaultdict(list)
    for row in lines:
        if row.parent_line is not None:
            children[row.parent_line].append(_sub_item(row, currency))

    def item(row: Record) -> OrderItem:
        fields = _line(row, currency)
        fields["sub_items"] = tuple(children[row.line])
        return trusted(OrderItem, fields)

    tops = [row for row in lines if row.parent_line is None]
    live = [row for row in tops if row.voided_at is None]
    fields = HEAD.read(head)
    fields["items"] = tuple(item(row) for row in live)
    fields["customer"] = _part(Customer, CUSTOMER.read(head))
    fields["details"] = _details(head)
    fields["discounts"] = tuple(_part_of(Discount, row, currency) for row in parts[DISCOUNTS])
    fields["tax_lines"] = tuple(_part_of(TaxLine, row, currency) for row in parts[TAX_LINES])
    content = trusted(OrderContent, fields)
    return Order(
        id=head.id,
        dojo_order_id=head.dojo_order_id,
        status=OrderStatus(head.status),
        version=head.version,
        content=content,
        payments=tuple(payment_of(row) for row in parts[PAYMENTS]),
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
        requesting_product=head.requesting_product,
    )


def _sub_item(row: Record, currency: str) -> OrderSubItem:
    return trusted(OrderSubItem, _line(row, currency))


def _line(row: Record, currency: str) -> dict[str, Any]:
    """What an item and a sub-item share, from an item row."""
    return {
        "name": row.name,
        "plu": row.plu,
        "quantity": row.quantity,
        "note": row.note,
        "amount_per_item": Money.of(row.amount_per_item, currency),
        "modifiers": _modifiers_of(row.modifiers, currency) if row.modifiers else (),
    }


@lru_cache(maxsize=4096)
def _modifiers_of(stored: str, currency: str) -> tuple[Modifier, ...]:
    """An item row's modifiers (`_modifiers`' other direction). Modifiers are frozen, and a
    menu's items carry the same few sets of them: one tuple per set is shared, as Money is."""
    made = []
    for name, plu, quantity, price in orjson.loads(stored):
        amount = Money.of(price, currency)
        fields = {"name": name, "plu": plu, "quantity": quantity, "amount_per_modifier": amount}
        made.append(trusted(Modifier, fields))
    return tuple(made)


def _details(head: Record) -> OrderDetails:
    order_type = OrderType(head.order_type)
    dine_in, collection = DINE_IN.read(head), COLLECTION.read(head)
    return trusted(
        OrderDetails,
        {
            "order_type": order_type,
            "dine_in": _part(DineInDetails, dine_in, kept=order_type is OrderType.DINE_IN),
            "collection": _part(CollectionDetails, collection, kept=order_type is OrderType.COLLECTION),
        },
    )


def _part(model: type[C], fields: dict[str, Any], *, kept: bool = False) -> C | None:
    """A part of the content, or None where it was not given (every field empty)."""
    if kept or any(value is not None for value in fields.values()):
        return trusted(model, fields)
    return None


def _part_of(model: type[C], row: Record, currency: str) -> C:
    fields = {name: getattr(row, _part_column(name)) for name in model.model_fields}
    fields["amount_total"] = Money.of(row.amount_total, currency)
    return trusted(model, fields)


# -- writing, loading and moving whole orders ---------------------------------------------------


async def insert_orders(tx: AsyncConnection, news: Sequence[NewOrder], *, now: datetime) -> set[str]:
    """Insert orders and all their lines, one statement per table however many there are; the ids
    inserted (an order whose Dojo id or client key another process just took is left out)."""
    heads = [head_row(new, now=now) for new in news]
    inserted = {row[0] for row in await insert_returning(tx, ORDERS, heads, ("id",), ignore_conflicts=True)}
    tables: dict[Table, list[dict[str, Any]]] = {DISCOUNTS: [], TAX_LINES: [], PAYMENTS: []}
    lines: list[tuple[Any, ...]] = []
    for new in (new for new in news if new.order_id in inserted):
        lines += line_values(new.order_id, new.draft.items, new.prep)
        tables[DISCOUNTS] += [part_row(new.order_id, n, d) for n, d in enumerate(new.draft.discounts)]
        tables[TAX_LINES] += [part_row(new.order_id, n, t) for n, t in enumerate(new.draft.tax_lines)]
        tables[PAYMENTS] += [payment_row(new.order_id, n, p, now) for n, p in enumerate(new.payments)]
    await insert_values(tx, ITEMS, LINE_COLUMNS, lines)
    for table, found in tables.items():
        await insert_many(tx, table, found)
    return inserted


async def existing(tx: AsyncConnection, order_id: str) -> Order:
    """The whole order, or NotFound."""
    found = await load_orders(tx, [order_id])
    if not found:
        raise NotFound(f"no order {order_id}")
    return found[0]


async def to_change(tx: AsyncConnection, order_id: str) -> Order:
    """The whole order, or NotFound, for a write transaction that may change it. On PostgreSQL
    the order's row is locked first and stays locked to the commit, so use cases on one order
    take turns as SQLite's writers do (BEGIN IMMEDIATE holds the whole file): a retry through
    another worker waits for the first and reads what it committed (the payment recorded, the
    order canceled) instead of racing it to a unique key or the version check."""
    if writers_overlap(tx):
        await tx.execute(_LOCK_ONE, {"id": order_id})
    return await existing(tx, order_id)


_LOCK_ONE: Final = select(ORDERS.c.id).where(ORDERS.c.id == bindparam("id")).with_for_update()


async def load_orders(tx: AsyncConnection, ids: Sequence[str]) -> list[Order]:
    """Whole orders, in the order of `ids`: five statements for each CHUNK of them, letting the
    event loop in between. SQLite runs on the loop's own thread (server/sqlite_inline.py), and
    reading and assembling a thousand orders in one go held every other request for ~0.4 s."""
    found: list[Order] = []
    for start in range(0, len(ids), CHUNK):
        if start:
            await asyncio.sleep(0)
        found += await _load_chunk(tx, ids[start : start + CHUNK])
    return found


# The order with Dojo's lock on it, if any, in one statement.
_HEADS = select(ORDERS, LOCKS.c.lock_id, LOCKS.c.expiry).outerjoin(LOCKS, LOCKS.c.order_id == ORDERS.c.id)
_PARTS: Final = {
    DISCOUNTS: DISCOUNTS.c.position,
    TAX_LINES: TAX_LINES.c.position,
    PAYMENTS: PAYMENTS.c.position,
}
# Loading orders by id, built once: building a statement and its cache key cost more than
# running it (GetOrderById served ~590 a second, bench/RESULTS.md).
_IDS: Final[BindParameter[list[str]]] = bindparam("ids", expanding=True)
_HEADS_OF: Final = _HEADS.where(ORDERS.c.id.in_(_IDS))
_LINES_OF: Final = select(ITEMS).where(ITEMS.c.order_id.in_(_IDS)).order_by(ITEMS.c.line)
_PARTS_OF: Final = {
    table: select(table).where(table.c.order_id.in_(_IDS)).order_by(by) for table, by in _PARTS.items()
}
# The same for one order (GetOrderById, a ticket): `= :id`, not an expanding IN, whose list
# SQLAlchemy renders into the SQL on every execution.
_ID: Final[BindParameter[str]] = bindparam("id")
# Its head row also says whether it has discounts or tax lines: most orders have neither, and a
# statement not run saves ~55 us of a GetOrderById (bench/reads.py).
_HEAD_OF: Final = _HEADS.add_columns(
    exists().where(DISCOUNTS.c.order_id == ORDERS.c.id).label("has_discounts"),
    exists().where(TAX_LINES.c.order_id == ORDERS.c.id).label("has_tax_lines"),
).where(ORDERS.c.id == _ID)
_LINES_OF_ONE: Final = select(ITEMS).where(ITEMS.c.order_id == _ID).order_by(ITEMS.c.line)
_PARTS_OF_ONE: Final = {
    table: select(table).where(table.c.order_id == _ID).order_by(by) for table, by in _PARTS.items()
}


async def _load_chunk(tx: AsyncConnection, ids: Sequence[str]) -> list[Order]:
    # The chunk's statements in one go on the synchronous connection underneath: each awaited
    # statement costs a greenlet switch and an async result of its own, a sixth of a
    # GetOrderById (bench/reads.py).
    return await reading(tx, _read_chunk, ids) if ids else []


def _read_chunk(connection: Connection, ids: Sequence[str]) -> list[Order]:
    if len(ids) == 1:
        return _read_one(connection, ids[0])
    heads = {row.id: row for row in fetch(connection, _HEADS_OF, {"ids": list(ids)})}
    if not heads:  # none of them exists: nothing more to read
        return []
    asked = {"ids": list(heads)}
    lines = grouped(fetch(connection, _LINES_OF, asked))
    parts = {table: grouped(fetch(connection, query, asked)) for table, query in _PARTS_OF.items()}
    return [
        order_of(heads[order_id], lines[order_id], {table: parts[table][order_id] for table in parts})
        for order_id in ids
        if order_id in heads
    ]


def _read_one(connection: Connection, order_id: str) -> list[Order]:
    asked = {"id": order_id}
    found = fetch(connection, _HEAD_OF, asked)
    if not found:  # a GetOrderById of an unknown id
        return []
    head = found[0]
    lines = fetch(connection, _LINES_OF_ONE, asked)
    held = {DISCOUNTS: head.has_discounts, TAX_LINES: head.has_tax_lines, PAYMENTS: True}
    parts = {
        table: fetch(connection, statement, asked) if held[table] else []
        for table, statement in _PARTS_OF_ONE.items()
    }
    return [order_of(head, lines, parts)]


async def order_exists(tx: AsyncConnection, order_id: str) -> bool:
    return (await tx.execute(select(ORDERS.c.id).where(ORDERS.c.id == order_id))).first() is not None


# Built once: a batch's look for retries is a statement a batch, and building it was a tenth of
# a CreateOrder batch's own Python (bench/RESULTS.md).
_PLACED: Final = select(ORDERS.c.id, ORDERS.c.fingerprint, ORDERS.c.dojo_order_id, ORDERS.c.client_key).where(
    or_(
        ORDERS.c.dojo_order_id.in_(bindparam("dojo_ids", expanding=True)),
        ORDERS.c.client_key.in_(bindparam("client_keys", expanding=True)),
    )
)


async def find_placed_many(
    tx: AsyncConnection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str, str | None]]:
    """The orders already placed under these keys (("dojo", dojoOrderId) or ("client", key)):
    their ids and fingerprints."""
    if not keys:
        return {}
    dojo_ids = {value for kind, value in keys if kind == "dojo"}
    client_keys = {value for kind, value in keys if kind == "client"}
    found: dict[tuple[str, str], tuple[str, str | None]] = {}
    asked = {"dojo_ids": list(dojo_ids), "client_keys": list(client_keys)}
    for row in await select_all(tx, _PLACED, asked):
        if row.dojo_order_id in dojo_ids:
            found[("dojo", row.dojo_order_id)] = (row.id, row.fingerprint)
        if row.client_key in client_keys:
            found[("client", row.client_key)] = (row.id, row.fingerprint)
    return found


async def save_state(
    tx: AsyncConnection,
    order: Order,
    *,
    status: OrderStatus | None = None,
    paid_amount: int | None = None,
    total_amount: int | None = None,
    now: datetime,
) -> bool:
    """Write a new status, paid or total amount if nobody else changed the order since it was read.
    A new status also stamps (or clears) when the order was made Ready: every status move of
    every use case is written here, so the ticket's clock cannot miss one."""
    values: dict[str, Any] = {"version": order.version + 1, "updated_at": now}
    if total_amount is not None:
        values["total_amount"] = total_amount
    if status is not None:
        values["status"] = status.value
        mark = ready_mark(order.status, status)
        if mark is not None:
            values["readied_at"] = now if mark else None
    if paid_amount is not None:
        values["paid_amount"] = paid_amount
    statement = (
        update(ORDERS).where(ORDERS.c.id == order.id, ORDERS.c.version == order.version).values(values)
    )
    return bool((await tx.execute(statement)).rowcount)


async def next_line(tx: AsyncConnection, order_id: str) -> int:
    """The line after every line (item or sub-item) the order has: where added items start."""
    query = select(func.coalesce(func.max(ITEMS.c.line), 0)).where(ITEMS.c.order_id == order_id)
    return int((await tx.execute(query)).scalar_one()) + 1


async def insert_items(
    tx: AsyncConnection, order_id: str, items: Sequence[OrderItem], prep: Sequence[PrepLine]
) -> None:
    """Items added to a placed order, on the lines `prep` gives them (from `next_line`)."""
    await insert_values(tx, ITEMS, LINE_COLUMNS, line_values(order_id, items, prep, first_line=prep[0].line))


async def claim_addition(tx: AsyncConnection, order_id: str, client_key: str, *, now: datetime) -> bool:
    """Take addItems' idempotency key for this order; False if a call already took it."""
    row = {"order_id": order_id, "client_key": client_key, "added_at": now}
    statement = insert_ignoring(tx, ITEM_ADDITIONS).returning(ITEM_ADDITIONS.c.order_id)
    return (await tx.execute(statement, [row])).first() is not None


async def claim_tap(
    tx: AsyncConnection, order_id: str, tap_id: str, *, action: str, now: datetime
) -> str | None:
    """Take a screen's tap id for this order; None if this call took it, else the action the
    call that took it asked for."""
    row = {"order_id": order_id, "tap_id": tap_id, "action": action, "at": now}
    statement = insert_ignoring(tx, TAPS).returning(TAPS.c.order_id)
    if (await tx.execute(statement, [row])).first() is not None:
        return None
    taken = select(TAPS.c.action).where(TAPS.c.order_id == order_id, TAPS.c.tap_id == tap_id)
    return str((await tx.execute(taken)).scalar_one())


async def void_lines(
    tx: AsyncConnection, order_id: str, lines: Sequence[int], *, at: datetime, reason: str | None
) -> None:
    where = (ITEMS.c.order_id == order_id) & ITEMS.c.line.in_(lines) & ITEMS.c.parent_line.is_(None)
    await tx.execute(update(ITEMS).where(where).values(voided_at=at, void_reason=reason))
