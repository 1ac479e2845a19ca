"""An order's history: append-only entries, one per creation, status move, payment change or cancel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.actors import Actor
from server.changes import ChangeKind
from server.lifecycle import OrderStatus


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    order_id: str
    at: datetime
    kind: ChangeKind
    actor: Actor
    from_status: OrderStatus | None = None
    to_status: OrderStatus | None = None
    detail: dict[str, Any] | None = None
