"""How any change to orders is recorded, in the change's own transaction, by every use case
alike (placing a batch, a move, a payment, an edit): its history entries, what is owed to Dojo
(an `OrderUpdated` each, so a crash can lose neither without the other), and its change-log
rows, last, so sequence numbers are taken just before commit. Published after commit: the
message names the newest change, and subscribers read every change after theirs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from server import spans
from server.changes import outbox
from server.changes import rows as change_rows
from server.changes.model import Change, HistoryEntry
from server.lifecycle import OrderStatus


async def record(
    tx: AsyncConnection,
    changes: Sequence[Change],
    entries: Sequence[HistoryEntry],
    *,
    now: datetime,
    dojo_due: datetime | None,
    traces: Sequence[str | None] | None = None,
) -> list[Change]:
    """Write these changes (their `sequence` is ignored) and entries; the changes as numbered.
    `traces`: the traceparent each change was asked under (server/spans.py); by default, the
    current span's, while tracing."""
    await change_rows.append_history(tx, entries)
    if dojo_due is not None:
        order_ids = [change.order_id for change in changes]
        asked = traces if traces is not None else [spans.traceparent()] * len(order_ids)
        await outbox.announce_many(tx, order_ids, now=now, due=dojo_due, traces=asked)
    logged = [(change.order_id, change.kind, change.from_status, _to(change)) for change in changes]
    sequences = await change_rows.append_changes(tx, logged, now=now)
    return [
        Change(sequence, change.order_id, change.kind, change.from_status, change.to_status)
        for sequence, change in zip(sequences, changes, strict=True)
    ]


def _to(change: Change) -> OrderStatus:
    assert change.to_status is not None, "every change leaves its order in some status"
    return change.to_status
