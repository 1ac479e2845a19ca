"""insights: when the kitchen made each order Ready

- `orders.readied_at`: the moment the order last became Ready (a recall back into the kitchen
  clears it; handing over or a cancel keeps it), so a ticket's time, arrival to Ready, is two
  columns of one row instead of a walk through its history. Orders already in the table take it
  from their history here, by the same rule.

The day's figures read the orders placed that day through `ix_orders_created` (created_at, id)
and their items through the items' primary key (order_id, line); a station's items made and
bumped are on the items already (`routed_at`, `done_at`).

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.models

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The statuses an order can leave Ready for and still be made again (a recall, or an edit that
# reopens it); as server/lifecycle.ready_mark had them when this revision was written.
_BACK_TO_WORK = ("New", "Submitted", "Confirmed", "Accepted", "Preparing", "Prepared")


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("readied_at", server.models.UtcDateTime(timezone=True), nullable=True))
    _backfill()


def _backfill() -> None:
    """Each order's history, oldest first: a move into Ready stamps it, a move out of Ready back
    to work clears it; whatever stands at the end is the order's."""
    connection = op.get_bind()
    history = sa.table(
        "order_history",
        sa.column("id", sa.Integer),
        sa.column("order_id", sa.String),
        sa.column("at", server.models.UtcDateTime()),
        sa.column("from_status", sa.String),
        sa.column("to_status", sa.String),
    )
    moves = connection.execute(
        sa.select(history.c.order_id, history.c.at, history.c.from_status, history.c.to_status)
        .where(sa.or_(history.c.to_status == "Ready", history.c.from_status == "Ready"))
        .order_by(history.c.order_id, history.c.id)
    )
    readied: dict[str, object] = {}
    for order_id, at, source, target in moves:
        if target == "Ready":
            readied[order_id] = at
        elif source == "Ready" and target in _BACK_TO_WORK:
            readied[order_id] = None
    orders = sa.table(
        "orders", sa.column("id", sa.String), sa.column("readied_at", server.models.UtcDateTime())
    )
    for order_id, at in readied.items():
        if at is not None:
            connection.execute(sa.update(orders).where(orders.c.id == order_id).values(readied_at=at))


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("readied_at")
