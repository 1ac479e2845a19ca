"""the outbox remembers the trace of the change that owes Dojo an event

- `dojo_outbox.traceparent`: the W3C traceparent of the change that made the event owed, while
  tracing (NULL otherwise), so its later delivery to Dojo joins that change's trace.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dojo_outbox") as table:
        table.add_column(sa.Column("traceparent", sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dojo_outbox") as table:
        table.drop_column("traceparent")
