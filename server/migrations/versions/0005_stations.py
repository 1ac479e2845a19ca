"""prep stations, their routing rules, and each item's station, when it was done or voided

Every venue starts with one default station, `kitchen`, so routing always has somewhere to
send an item; the orders already there stay on it.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.models

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    stations = op.create_table(
        "stations",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", server.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "routing_rules",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("station_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("pattern", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("order_items") as batch_op:
        batch_op.add_column(sa.Column("station", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column("routed_at", server.models.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("done_at", server.models.UtcDateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_order_items_done_at", ["done_at"], unique=False)
        batch_op.add_column(sa.Column("voided_at", server.models.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("void_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    op.bulk_insert(
        stations,
        [
            {
                "id": "kitchen",
                "name": "Kitchen",
                "position": 0,
                "is_default": True,
                "created_at": datetime.now(UTC),
            }
        ],
    )
    # The items already there are on that station, arrived when their order did.
    op.execute(
        "UPDATE order_items SET station = 'kitchen',"
        " routed_at = (SELECT created_at FROM orders WHERE orders.id = order_items.order_id)"
        " WHERE parent_line IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("order_items") as batch_op:
        batch_op.drop_column("void_reason")
        batch_op.drop_column("voided_at")
        batch_op.drop_index("ix_order_items_done_at")
        batch_op.drop_column("done_at")
        batch_op.drop_column("routed_at")
        batch_op.drop_column("station")
    op.drop_table("routing_rules")
    op.drop_table("stations")
