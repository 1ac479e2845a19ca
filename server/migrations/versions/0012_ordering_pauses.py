"""pausing Dojo's ordering: the pauses in force, and the audit history of every pause and resume

- `ordering_pauses`: a Dojo product (Order & Pay, QR) whose new orders are paused, until a time
  or until resumed; one row per product at most, deleted when it is resumed (by someone, or by
  its time running out);
- `ordering_changes`: append-only, every pause, resume and automatic resume, with who did it.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.models

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ordering_pauses",
        sa.Column("product", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("until", server.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("paused_at", server.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("product"),
    )
    op.create_table(
        "ordering_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", server.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("products", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("until", server.models.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("ordering_changes")
    op.drop_table("ordering_pauses")
