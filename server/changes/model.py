"""Committed changes to orders: their kinds, the small message the broker carries, and an
order's history (append-only entries, one per creation, move, payment change, edit or cancel).

A message names a change (sequence, order id, kind), never the order itself: subscribers
read `sequence > last` from the store, so a message lost or reordered in transit costs
nothing but a moment's delay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

import orjson

from server.actors import Actor
from server.lifecycle import OrderStatus

CHANNEL: Final = "orderpass.changes"


class ChangeKind(StrEnum):
    CREATED = "CREATED"
    STATUS_CHANGED = "STATUS_CHANGED"
    PAYMENT_CHANGED = "PAYMENT_CHANGED"
    CANCELED = "CANCELED"
    PREP_CHANGED = "PREP_CHANGED"  # items done (or brought back) at a prep station
    ITEMS_CHANGED = "ITEMS_CHANGED"  # items added to or voided from a placed order
    LOCK_OVERRIDDEN = "LOCK_OVERRIDDEN"  # an admin removed Dojo's lock (releaseLock)
    FIRED = "FIRED"  # a timed order's fire time came: on to the kitchen's screens (server/schedule.py)


@dataclass(frozen=True, slots=True)
class Change:
    sequence: int
    order_id: str
    kind: ChangeKind
    from_status: OrderStatus | None = None
    to_status: OrderStatus | None = None

    def touches(self, statuses: frozenset[OrderStatus]) -> bool:
        """Whether the order was in one of these statuses before or after the change: a screen
        showing those statuses must hear of orders that arrive in them and orders that leave."""
        return self.from_status in statuses or self.to_status in statuses

    def to_json(self, *, traceparent: str | None = None) -> str:
        """The broker's message: which change, never the order; and, while tracing, the W3C
        traceparent of the change's span, so the feed's fan-out joins its trace."""
        message: dict[str, Any] = {"sequence": self.sequence, "orderId": self.order_id, "kind": self.kind}
        if traceparent is not None:
            message["traceparent"] = traceparent
        return orjson.dumps(message).decode()

    @staticmethod
    def traceparent_in(message: str) -> str | None:
        found = orjson.loads(message).get("traceparent")
        return found if isinstance(found, str) else None

    @classmethod
    def from_json(cls, message: str) -> Change:
        data = orjson.loads(message)
        return cls(int(data["sequence"]), str(data["orderId"]), ChangeKind(data["kind"]))


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    order_id: str
    at: datetime
    kind: ChangeKind
    actor: Actor
    from_status: OrderStatus | None = None
    to_status: OrderStatus | None = None
    detail: dict[str, Any] | None = None
