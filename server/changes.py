"""Committed changes to orders: their kinds and the small message the broker carries.

A message names a change (sequence, order id, kind), never the order itself: subscribers
read `sequence > last` from the store, so a message lost or reordered in transit costs
nothing but a moment's delay.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import orjson

CHANNEL: Final = "orderpass.changes"


class ChangeKind(StrEnum):
    CREATED = "CREATED"
    STATUS_CHANGED = "STATUS_CHANGED"
    PAYMENT_CHANGED = "PAYMENT_CHANGED"
    CANCELED = "CANCELED"
    UPDATED = "UPDATED"


@dataclass(frozen=True, slots=True)
class Change:
    sequence: int
    order_id: str
    kind: ChangeKind

    def to_json(self) -> str:
        return orjson.dumps({"sequence": self.sequence, "orderId": self.order_id, "kind": self.kind}).decode()

    @classmethod
    def from_json(cls, message: str) -> Change:
        data = orjson.loads(message)
        return cls(int(data["sequence"]), str(data["orderId"]), ChangeKind(data["kind"]))
