"""a busy kitchen's board: a screen's taps by their ids, a station's own prep time, timed orders' fires

- `order_taps`: a kitchen screen's tap (a bump, a recall, a hand-over) by the id the screen gave
  it, so a tap sent again after a dropped connection is applied once;
- `stations.prep_minutes`: how long before a timed order is due a station starts on it (null:
  the venue's ORDERPASS_PREP_MINUTES);
- `order_fires`: a timed order's fire times once announced: every process's firing worker tries
  to claim each, so the screens hear of it once.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.models

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_taps",
        sa.Column("order_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("tap_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("at", server.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.PrimaryKeyConstraint("order_id", "tap_id"),
    )
    with op.batch_alter_table("stations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prep_minutes", sa.Integer(), nullable=True))
    op.create_table(
        "order_fires",
        sa.Column("order_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("fire_at", server.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("fired_at", server.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.PrimaryKeyConstraint("order_id", "fire_at"),
    )


def downgrade() -> None:
    op.drop_table("order_fires")
    with op.batch_alter_table("stations", schema=None) as batch_op:
        batch_op.drop_column("prep_minutes")
    op.drop_table("order_taps")
