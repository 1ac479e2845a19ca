"""Dojo's write lock on an order while it takes payment at the table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from server.clock import iso


@dataclass(frozen=True, slots=True)
class Lock:
    lock_id: str
    expiry: datetime

    def holds(self, now: datetime) -> bool:
        """A lock past its expiry no longer holds: Dojo may have vanished mid-payment."""
        return now < self.expiry

    def describe(self) -> str:
        return f"lock {self.lock_id} until {iso(self.expiry)}"
