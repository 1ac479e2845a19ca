"""The tables. Alembic migrations (server/migrations) create them; nothing here connects.

Amounts are integer minor units; an order's currency is stored once on the order (CreateOrder
refuses mixed currencies). Times are UTC. History and changes are append-only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final, cast

from sqlalchemy import BigInteger, DateTime, Dialect, Index, Integer, Table, UniqueConstraint, text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (naive text) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], datetime | None] | None:
        """On SQLite, the stored text to an aware datetime in one step: SQLAlchemy's own parse and
        then `process_result_value` were two Python calls for every time of every row, even an
        empty one (~15,000 of them to read 500 open orders, bench/reads.py)."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        parse, slow = datetime.fromisoformat, super().result_processor(dialect, coltype)

        def process(value: Any) -> datetime | None:
            if value is None:
                return None
            if type(value) is str and len(value) == _STORED:
                return parse(value).replace(tzinfo=UTC)
            return slow(value) if slow else value  # any other form, as SQLAlchemy reads it

        return process


_STORED: Final = len("2026-11-30 07:50:49.123456")  # how SQLite's DATETIME writes every time


def _time(**kwargs: Any) -> Any:
    return Field(sa_type=UtcDateTime, **kwargs)


def _amount(**kwargs: Any) -> Any:
    """Minor units: Dojo's int64, so BIGINT on PostgreSQL."""
    return Field(sa_type=BigInteger, **kwargs)


# An ever-growing key: BIGINT on PostgreSQL, plain INTEGER on SQLite (where only INTEGER
# PRIMARY KEY is the autoincrementing rowid).
_Serial = BigInteger().with_variant(Integer, "sqlite")


class OrderRow(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_created", "created_at", "id"),
        Index("ux_orders_client_key", "client_key", unique=True),
    )

    id: str = Field(primary_key=True)
    dojo_order_id: str | None = Field(default=None, unique=True)
    client_key: str | None = None  # a staff client's idempotency key
    requesting_product: str | None = None  # Dojo's `dojo-requesting-product` when it placed the order
    fingerprint: str | None = None  # of the order as placed, to tell a retry from a clash
    status: str = Field(index=True)
    version: int = 1
    order_type: str
    table_id: str | None = Field(default=None, index=True)
    waiter_id: str | None = Field(default=None, index=True)
    party_id: str | None = None
    reservation_id: str | None = None
    ready_at: datetime | None = _time(default=None)
    collect_asap: bool | None = None
    collect_at: datetime | None = _time(default=None)
    reference: str | None = None
    display_name: str | None = None
    note: str | None = None
    currency: str
    total_amount: int = _amount()
    service_charge_amount: int | None = _amount(default=None)
    paid_amount: int = _amount(
        default=0
    )  # of the payments that count; kept by the service layer for payableOnly
    customer_id: str | None = None
    customer_name: str | None = None
    customer_email: str | None = None
    customer_phone: str | None = None
    created_at: datetime = _time()
    updated_at: datetime = _time()
    # When the kitchen last made it Ready (server/lifecycle.ready_mark): a ticket's time runs from
    # its arrival to this. Not `ready_at`, which is Dojo's: when a pre-ordered table wants it.
    readied_at: datetime | None = _time(default=None)


class ItemRow(SQLModel, table=True):
    """Items and sub-items; a sub-item names its parent's line."""

    __tablename__ = "order_items"
    order_id: str = Field(foreign_key="orders.id", primary_key=True)
    line: int = Field(primary_key=True)
    parent_line: int | None = None
    name: str
    plu: str
    quantity: int
    amount_per_item: int = _amount()
    note: str | None = None
    # The line's modifiers, as JSON [[name, plu, quantity, amountPerModifier], ...]: they are the
    # item's own values, never looked up alone, and a row each made up a third of CreateOrder's cost.
    modifiers: str | None = None
    # Prep, for items (a sub-item goes with its item): the station routing sent it to, when it
    # arrived there, and when that station bumped it.
    station: str | None = None
    routed_at: datetime | None = _time(default=None)
    done_at: datetime | None = _time(default=None, index=True)  # speed of service reads by it
    # An item taken off the order after it was placed: off the bill, struck through on screens.
    voided_at: datetime | None = _time(default=None)
    void_reason: str | None = None


class DiscountRow(SQLModel, table=True):
    __tablename__ = "order_discounts"
    order_id: str = Field(foreign_key="orders.id", primary_key=True)
    position: int = Field(primary_key=True)
    name: str
    affected_plu: str | None = None
    discount_reference: str | None = None
    code: str | None = None
    amount_total: int = _amount()
    amount_percentage: int | None = None


class TaxLineRow(SQLModel, table=True):
    __tablename__ = "order_tax_lines"
    order_id: str = Field(foreign_key="orders.id", primary_key=True)
    position: int = Field(primary_key=True)
    tax_id: str | None = None
    name: str | None = None
    affected_plu: str | None = None
    amount_percentage: int | None = None
    amount_total: int = _amount()


class PaymentRow(SQLModel, table=True):
    __tablename__ = "payments"
    payment_intent_id: str = Field(primary_key=True)
    order_id: str = Field(foreign_key="orders.id", index=True)
    position: int
    paid_amount: int = _amount()
    tips_amount: int = _amount(default=0)
    source: str
    status: str | None = None
    status_at: datetime | None = _time(default=None)  # createdAt of the event that set the status
    created_at: datetime = _time()


class PaymentEventRow(SQLModel, table=True):
    """Every payment-intent event Dojo delivered, once: by id, and by intent and status."""

    __tablename__ = "payment_events"
    __table_args__ = (UniqueConstraint("payment_intent_id", "payment_status"),)

    id: str = Field(primary_key=True)
    account_id: str
    event_type: str
    payment_intent_id: str = Field(index=True)
    payment_status: str
    capture_mode: str
    created_at: datetime = _time()
    received_at: datetime = _time()


class HistoryRow(SQLModel, table=True):
    """Append-only: every creation, status move, payment change and cancel of an order."""

    __tablename__ = "order_history"
    __table_args__ = (Index("ix_order_history_order", "order_id", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=_Serial)
    order_id: str = Field(foreign_key="orders.id")
    at: datetime = _time()
    kind: str
    from_status: str | None = None
    to_status: str | None = None
    actor: str
    waiter_id: str | None = None
    requesting_product: str | None = None
    device_id: str | None = None
    device_type: str | None = None
    detail: str | None = None  # JSON: payment intent and amounts, a cancel reason


class ChangeRow(SQLModel, table=True):
    """One row per committed change to an order; `sequence` is what screens catch up from."""

    __tablename__ = "order_changes"
    __table_args__ = {"sqlite_autoincrement": True}

    sequence: int | None = Field(default=None, primary_key=True, sa_type=_Serial)
    order_id: str
    kind: str
    from_status: str | None = None  # the order's status before and after: screens filter on both
    to_status: str
    at: datetime = _time()


class StaffTokenRow(SQLModel, table=True):
    """A bearer token for staff tools and kitchen screens; only its SHA-256 is kept."""

    __tablename__ = "staff_tokens"
    __table_args__ = (
        Index(
            "ux_staff_tokens_active_name",
            "name",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=_Serial)
    name: str
    role: str
    token_hash: str = Field(unique=True)
    created_at: datetime = _time()
    revoked_at: datetime | None = _time(default=None)
    expires_at: datetime | None = _time(default=None)  # None: until revoked


class OrderLockRow(SQLModel, table=True):
    """Dojo's write lock on an order while it takes payment (Pay at Table); at most one per order."""

    __tablename__ = "order_locks"
    order_id: str = Field(foreign_key="orders.id", primary_key=True)
    lock_id: str
    expiry: datetime = _time()
    locked_at: datetime = _time()


class OutboxRow(SQLModel, table=True):
    """An `OrderUpdated` event owed to Dojo, written in the same transaction as the change.

    At most one undelivered row per order: a burst of changes bumps `changes` on it, and a
    delivery only counts if `changes` did not move while it was under way."""

    __tablename__ = "dojo_outbox"
    __table_args__ = (
        Index(
            "ux_dojo_outbox_pending",
            "order_id",
            unique=True,
            sqlite_where=text("delivered_at IS NULL"),
            postgresql_where=text("delivered_at IS NULL"),
        ),
        Index("ix_dojo_outbox_due", "delivered_at", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=_Serial)
    order_id: str
    event_type: str = "OrderUpdated"
    changes: int = 1
    created_at: datetime = _time()
    updated_at: datetime = _time()
    next_attempt_at: datetime = _time()
    attempts: int = 0
    claimed_until: datetime | None = _time(default=None)  # a dispatcher is delivering it
    delivered_at: datetime | None = _time(default=None)
    last_error: str | None = None
    # The W3C traceparent of the change that made it owed, while tracing: its delivery and the
    # call to Dojo join that change's trace (server/spans.py).
    traceparent: str | None = None


class IntentLookupRow(SQLModel, table=True):
    """Asking Dojo which order an unmatched payment intent belongs to: when to ask again."""

    __tablename__ = "payment_intent_lookups"
    payment_intent_id: str = Field(primary_key=True)
    attempts: int = 0
    next_attempt_at: datetime = _time()
    last_error: str | None = None
    resolved_at: datetime | None = _time(default=None)


class StationRow(SQLModel, table=True):
    """A prep station (grill, fry, bar); exactly one is the default, for items no rule routes."""

    __tablename__ = "stations"
    id: str = Field(primary_key=True)
    name: str
    position: int = 0
    is_default: bool = False
    prep_minutes: int | None = None  # a timed order's part here fires this long before it is due
    created_at: datetime = _time()


class RoutingRuleRow(SQLModel, table=True):
    """Sends items to a station by PLU, PLU prefix or name pattern (server/stations/routing.py)."""

    __tablename__ = "routing_rules"
    id: int | None = Field(default=None, primary_key=True, sa_type=_Serial)
    station_id: str = Field(foreign_key="stations.id", ondelete="CASCADE")
    kind: str
    pattern: str
    position: int = 0


class ItemAdditionRow(SQLModel, table=True):
    """A staff client's idempotency key for addItems: a retry with the same key adds nothing again."""

    __tablename__ = "item_additions"
    order_id: str = Field(foreign_key="orders.id", primary_key=True)
    client_key: str = Field(primary_key=True)
    added_at: datetime = _time()


class DojoSocketRow(SQLModel, table=True):
    """The one WebSocket to Dojo per venue: which process holds it (a lease it renews), and how
    the socket is doing, for every process and `orderpass dojo status` to read."""

    __tablename__ = "dojo_socket"
    name: str = Field(primary_key=True)  # one row, "dojo"
    holder: str | None = None  # host:pid:nonce of the process that holds the lease
    expires_at: datetime | None = _time(default=None)  # the lease ends unless renewed before
    state: str = "off"  # off, standby, connecting, connected, reconnecting, refused
    connected_since: datetime | None = _time(default=None)
    last_error: str | None = None
    calls_served: int = Field(default=0, sa_type=BigInteger)
    updated_at: datetime | None = _time(default=None)


class AreaRow(SQLModel, table=True):
    """A part of the venue that holds tables (server/floor/model.py)."""

    __tablename__ = "areas"
    id: str = Field(primary_key=True)
    name: str
    position: int = 0
    created_at: datetime = _time()


class FloorTableRow(SQLModel, table=True):
    """A table Dojo's Pay at Table can find; its name is unique within its area. SearchTables
    walks them by (created_at, id), which never change."""

    __tablename__ = "floor_tables"
    __table_args__ = (
        UniqueConstraint("area_id", "name"),
        Index("ix_floor_tables_created", "created_at", "id"),
    )

    id: str = Field(primary_key=True)
    name: str
    area_id: str = Field(foreign_key="areas.id")
    max_covers: int | None = None
    position: int = 0
    created_at: datetime = _time()


class AreaWaiterRow(SQLModel, table=True):
    __tablename__ = "area_waiters"
    area_id: str = Field(foreign_key="areas.id", primary_key=True, ondelete="CASCADE")
    waiter_id: str = Field(primary_key=True)
    position: int = 0


class TableWaiterRow(SQLModel, table=True):
    __tablename__ = "table_waiters"
    table_id: str = Field(foreign_key="floor_tables.id", primary_key=True, ondelete="CASCADE")
    waiter_id: str = Field(primary_key=True, index=True)  # SearchTables' waiterId
    position: int = 0


class TapRow(SQLModel, table=True):
    """A kitchen screen's tap (a bump, a recall, a hand-over), by the id the screen gave it: a
    retry of the tap (sent again after a dropped connection) is applied once."""

    __tablename__ = "order_taps"
    order_id: str = Field(foreign_key="orders.id", primary_key=True)
    tap_id: str = Field(primary_key=True)
    action: str  # what it asked: "move Accepted", "bump grill", "bring-back grill"
    at: datetime = _time()


class FireRow(SQLModel, table=True):
    """A timed order's fire time, once announced: every process's firing worker tries to claim
    it, so the kitchen's screens hear of it once (server/orders/firing.py)."""

    __tablename__ = "order_fires"
    order_id: str = Field(foreign_key="orders.id", primary_key=True)
    fire_at: datetime = Field(sa_type=UtcDateTime, primary_key=True)
    fired_at: datetime = _time()


class OrderingPauseRow(SQLModel, table=True):
    """A Dojo product whose new orders are paused (server/ordering/): one row per product at
    most, gone when it is resumed. CreateOrder refuses its orders while `now < until`."""

    __tablename__ = "ordering_pauses"
    product: str = Field(primary_key=True)  # DojoProduct's value: "Order&Pay", "QR"
    until: datetime | None = _time(default=None)  # None: until someone resumes it
    paused_at: datetime = _time()
    actor: str  # who paused it, as history names actors: "staff:lead"


class OrderingChangeRow(SQLModel, table=True):
    """Append-only: every pause, resume and automatic resume of Dojo's ordering, and who did it."""

    __tablename__ = "ordering_changes"
    id: int | None = Field(default=None, primary_key=True, sa_type=_Serial)
    at: datetime = _time()
    kind: str  # PAUSED, RESUMED, AUTO_RESUMED
    actor: str
    products: str  # JSON: the products' values, ["Order&Pay", "QR"]
    until: datetime | None = _time(default=None)


def _table(model: type[SQLModel]) -> Table:
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


# The Core tables, for the hot paths that skip the ORM's unit of work.
ORDERS = _table(OrderRow)
ITEMS = _table(ItemRow)
DISCOUNTS = _table(DiscountRow)
TAX_LINES = _table(TaxLineRow)
PAYMENTS = _table(PaymentRow)
PAYMENT_EVENTS = _table(PaymentEventRow)
HISTORY = _table(HistoryRow)
CHANGES = _table(ChangeRow)
STAFF_TOKENS = _table(StaffTokenRow)
LOCKS = _table(OrderLockRow)
OUTBOX = _table(OutboxRow)
INTENT_LOOKUPS = _table(IntentLookupRow)
STATIONS = _table(StationRow)
RULES = _table(RoutingRuleRow)
ITEM_ADDITIONS = _table(ItemAdditionRow)
DOJO_SOCKET = _table(DojoSocketRow)
AREAS = _table(AreaRow)
FLOOR_TABLES = _table(FloorTableRow)
AREA_WAITERS = _table(AreaWaiterRow)
TABLE_WAITERS = _table(TableWaiterRow)
TAPS = _table(TapRow)
FIRES = _table(FireRow)
ORDERING_PAUSES = _table(OrderingPauseRow)
ORDERING_CHANGES = _table(OrderingChangeRow)
