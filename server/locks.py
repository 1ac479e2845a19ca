"""Dojo's write lock on an order while it takes payment at the table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

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


def capped(expiry: datetime, *, now: datetime, longest: timedelta) -> datetime:
    """The expiry a new or extended lock gets: what Dojo asked for, but at most `longest` from
    now. An expiry in 9999 would keep staff off the order for good should Dojo then vanish; a
    shorter one only means Dojo, which extends a live payment in short steps, extends sooner."""
    return min(expiry, now + longest)
