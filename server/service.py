"""What every use case shares: its store, broker and clock, and how a change is recorded.

A change is written in the use case's own transaction: the order's new state (guarded by
its version, so a concurrent writer gets Conflict instead of a lost update), its history
entries, and a change-log row with the next sequence number. It is published only after
commit, and the message names the change, never the order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Final, NotRequired, TypedDict

from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncConnection

from server import spans
from server.actors import Actor
from server.broker import Broker
from server.changes.model import CHANNEL, Change, ChangeKind, HistoryEntry
from server.changes.record import record
from server.clock import Clock
from server.errors import Conflict, InvalidRequest
from server.lifecycle import OrderStatus, check_move
from server.orders import rows as order_rows
from server.orders.model import Order
from server.payments.model import Payment
from server.store import Store

MAX_TAP_ID: Final = 100  # a screen's tap ids are UUIDs (36 characters)


class Parts(TypedDict):
    """What every service is built on: `Service`'s keywords, passed on whole by a service that adds
    its own (`**parts: Unpack[Parts]`)."""

    store: Store
    broker: Broker
    clock: Clock
    dojo_events: NotRequired[timedelta | None]


class Service:
    def __init__(
        self, *, store: Store, broker: Broker, clock: Clock, dojo_events: timedelta | None = None
    ) -> None:
        """`dojo_events`: owe Dojo an `OrderUpdated` for every change, due that long after it (so
        a burst goes as one); None when orderpass does not talk to Dojo."""
        self.store = store
        self.broker = broker
        self.clock = clock
        self.dojo_events = dojo_events

    async def _record(
        self,
        tx: AsyncConnection,
        order: Order,
        kind: ChangeKind,
        entries: Sequence[HistoryEntry],
        *,
        now: datetime,
        status: OrderStatus | None = None,
        payments: tuple[Payment, ...] | None = None,
        total_amount: int | None = None,
    ) -> tuple[Order, Change]:
        """Write one change to an order; return the order as it now is, and the change. (`order`
        carries its new content and prep already; `total_amount` says the total changed.)"""
        updated = dataclasses.replace(
            order,
            status=status or order.status,
            payments=order.payments if payments is None else payments,
            version=order.version + 1,
            updated_at=now,
        )
        paid = updated.paid_amount if payments is not None else None
        saved = await order_rows.save_state(
            tx, order, status=status, paid_amount=paid, total_amount=total_amount, now=now
        )
        if not saved:
            raise Conflict(f"order {order.id} was changed by someone else meanwhile; read it again")
        change = Change(0, order.id, kind, order.status, updated.status)
        (logged,) = await record(tx, [change], entries, now=now, dojo_due=self.dojo_due(now))
        return updated, logged

    def dojo_due(self, now: datetime) -> datetime | None:
        """When the OrderUpdated owed for a change made now is due, if orderpass talks to Dojo."""
        return now + self.dojo_events if self.dojo_events is not None else None

    async def _replayed(self, tx: AsyncConnection, order: Order, tap: str | None, *, action: str) -> bool:
        """Whether a screen's tap was applied already: then its retry (sent again after a dropped
        connection) changes nothing, and the caller answers the order as it now is. Otherwise
        the tap is claimed in the use case's own transaction, so a tap the rules refuse claims
        nothing, and is judged again if it comes back."""
        if tap is None:
            return False
        if not 0 < len(tap) <= MAX_TAP_ID:
            raise InvalidRequest(f"tapId: 1 to {MAX_TAP_ID} characters", field="tapId")
        taken = await order_rows.claim_tap(tx, order.id, tap, action=action, now=self.clock.now())
        if taken is not None and taken != action:
            raise Conflict(f"tap {tap} on order {order.id} was a {taken}, not a {action}")
        return taken is not None

    async def _publish(self, change: Change) -> None:
        with spans.within("publish orderpass.changes", kind=SpanKind.PRODUCER):
            await self.broker.publish(CHANNEL, change.to_json(traceparent=spans.traceparent()))


def status_steps(
    order: Order, path: Sequence[OrderStatus], *, now: datetime, actor: Callable[[OrderStatus], Actor]
) -> list[HistoryEntry]:
    """History entries for moving an order along `path`, each step checked against the lifecycle
    table (a move that follows from something else: a station's bump, an edit); `actor` names who
    made each step."""
    entries = []
    status = order.status
    for step in path:
        check_move(status, step, paid_in_full=order.paid_in_full)
        entries.append(
            HistoryEntry(
                order.id, now, ChangeKind.STATUS_CHANGED, actor(step), from_status=status, to_status=step
            )
        )
        status = step
    return entries
