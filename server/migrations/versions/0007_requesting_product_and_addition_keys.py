"""the Dojo product that placed an order, on the order; addItems' idempotency keys in a table

A ticket named its Dojo product by reading the order's history; the product now sits on the
order, written when it is placed (orders placed before this revision take it from their
history here). A retry of addItems was found by scanning the order's history JSON for its key;
keys now have a table of their own, unique per order (existing ones are copied over).

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.models

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("requesting_product", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )
    op.create_table(
        "item_additions",
        sa.Column("order_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("client_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("added_at", server.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.PrimaryKeyConstraint("order_id", "client_key"),
    )
    _backfill()


def _backfill() -> None:
    """The product from each order's first history entry that names one; the keys of earlier
    addItems calls from their history entries."""
    connection = op.get_bind()
    history = sa.table(
        "order_history",
        sa.column("order_id", sa.String),
        sa.column("at", server.models.UtcDateTime()),
        sa.column("kind", sa.String),
        sa.column("requesting_product", sa.String),
        sa.column("detail", sa.String),
    )
    products = connection.execute(
        sa.select(history.c.order_id, sa.func.min(history.c.requesting_product))
        .where(history.c.requesting_product.is_not(None))
        .group_by(history.c.order_id)
    ).all()
    orders = sa.table("orders", sa.column("id", sa.String), sa.column("requesting_product", sa.String))
    for order_id, product in products:
        connection.execute(
            sa.update(orders).where(orders.c.id == order_id).values(requesting_product=product)
        )
    additions = sa.table(
        "item_additions",
        sa.column("order_id", sa.String),
        sa.column("client_key", sa.String),
        sa.column("added_at", server.models.UtcDateTime()),
    )
    seen: set[tuple[str, str]] = set()
    for order_id, at, detail in connection.execute(
        sa.select(history.c.order_id, history.c.at, history.c.detail).where(history.c.kind == "ITEMS_CHANGED")
    ):
        key = _key(detail)
        if key is not None and (order_id, key) not in seen:
            seen.add((order_id, key))
            connection.execute(sa.insert(additions).values(order_id=order_id, client_key=key, added_at=at))


def _key(detail: object) -> str | None:
    import json

    parsed = json.loads(detail) if isinstance(detail, str) else detail
    key = parsed.get("key") if isinstance(parsed, dict) else None
    return key if isinstance(key, str) else None


def downgrade() -> None:
    op.drop_table("item_additions")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("requesting_product")
