"""modifiers live on their item row; drop the change log's unused indexes

A modifier is its item's own value, never looked up alone, and a row each made up a third of
CreateOrder's cost; the change log is only ever read by sequence.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import orjson
import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("order_items") as batch_op:
        batch_op.add_column(sa.Column("modifiers", sa.String(), nullable=True))
    connection = op.get_bind()
    found: dict[tuple[str, int], list[list[object]]] = {}
    query = (
        "SELECT order_id, line, name, plu, quantity, amount_per_modifier FROM item_modifiers"
        " ORDER BY order_id, line, position"
    )
    for order_id, line, name, plu, quantity, amount in connection.execute(sa.text(query)):
        found.setdefault((order_id, line), []).append([name, plu, quantity, amount])
    update = sa.text(
        "UPDATE order_items SET modifiers = :modifiers WHERE order_id = :order_id AND line = :line"
    )
    for (order_id, line), modifiers in found.items():
        connection.execute(
            update, {"modifiers": orjson.dumps(modifiers).decode(), "order_id": order_id, "line": line}
        )
    op.drop_table("item_modifiers")
    with op.batch_alter_table("order_changes", table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.drop_index("ix_order_changes_order_id")
        batch_op.drop_index("ix_order_changes_at")


def downgrade() -> None:
    with op.batch_alter_table("order_changes", table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.create_index("ix_order_changes_at", ["at"])
        batch_op.create_index("ix_order_changes_order_id", ["order_id"])
    op.create_table(
        "item_modifiers",
        sa.Column("order_id", sa.String(), sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("plu", sa.String(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount_per_modifier", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "line", "position"),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT order_id, line, modifiers FROM order_items WHERE modifiers IS NOT NULL")
    )
    insert = sa.text(
        "INSERT INTO item_modifiers VALUES (:order_id, :line, :position, :name, :plu, :quantity, :amount)"
    )
    for order_id, line, encoded in list(rows):
        for position, (name, plu, quantity, amount) in enumerate(orjson.loads(encoded)):
            connection.execute(
                insert,
                {
                    "order_id": order_id,
                    "line": line,
                    "position": position,
                    "name": name,
                    "plu": plu,
                    "quantity": quantity,
                    "amount": amount,
                },
            )
    with op.batch_alter_table("order_items") as batch_op:
        batch_op.drop_column("modifiers")
