"""the floor: areas, the tables in them, and the waiters who serve each

What Dojo's Pay at Table browses (ListAreas, SearchTables). A table's name is unique within its
area; SearchTables walks tables by (created_at, id). A new venue has no floor; orders keep
naming tables by `dineIn.tableId` whether or not a table of that id exists.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.models

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "areas",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", server.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "area_waiters",
        sa.Column("area_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("waiter_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["area_id"], ["areas.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("area_id", "waiter_id"),
    )
    op.create_table(
        "floor_tables",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("area_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("max_covers", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", server.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["area_id"], ["areas.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("area_id", "name"),
    )
    op.create_index("ix_floor_tables_created", "floor_tables", ["created_at", "id"])
    op.create_table(
        "table_waiters",
        sa.Column("table_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("waiter_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["table_id"], ["floor_tables.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("table_id", "waiter_id"),
    )
    op.create_index("ix_table_waiters_waiter_id", "table_waiters", ["waiter_id"])


def downgrade() -> None:
    op.drop_index("ix_table_waiters_waiter_id", table_name="table_waiters")
    op.drop_table("table_waiters")
    op.drop_index("ix_floor_tables_created", table_name="floor_tables")
    op.drop_table("floor_tables")
    op.drop_table("area_waiters")
    op.drop_table("areas")
