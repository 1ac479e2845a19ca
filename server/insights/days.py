"""A venue's days, on its own clock, with no I/O: which day a door asked for (refused in words if
it is no date, or has not begun), the day's first and last moments in UTC (23, 24 or 25 hours
apart), and the quarter hour of its wall clock a moment falls in."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from server.errors import InvalidRequest

QUARTER: Final = 15  # minutes
SLOTS: Final = 24 * 60 // QUARTER
EARLIEST: Final = date(2000, 1, 1)  # no venue has figures before it; and a week before stays a date
_DAY: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_day(text: str | None, *, today: date) -> date:
    """`?day=YYYY-MM-DD` (today if absent), refused in words if malformed or out of range."""
    if text is None or not text.strip():
        return today
    if not _DAY.fullmatch(text.strip()):
        raise InvalidRequest(f"day: {text[:40]!r} is not a date like {today.isoformat()}", field="day")
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidRequest(f"day: there is no {text.strip()}", field="day") from None
    return check_day(day, today=today)


def check_day(day: date, *, today: date) -> date:
    if day > today:
        raise InvalidRequest(f"day: {day.isoformat()} has not begun yet", field="day")
    if day < EARLIEST:
        raise InvalidRequest(f"day: {day.isoformat()} is before {EARLIEST.isoformat()}", field="day")
    return day


def today_in(zone: ZoneInfo, now: datetime) -> date:
    return now.astimezone(zone).date()


def bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The day's first moment and the next day's, in UTC: 23, 24 or 25 hours apart."""

    def midnight(of: date) -> datetime:
        return datetime.combine(of, time(), tzinfo=zone).astimezone(UTC)

    return midnight(day), midnight(day + timedelta(days=1))


def slot_of(moment: datetime, zone: ZoneInfo) -> int:
    local = moment.astimezone(zone)
    return (local.hour * 60 + local.minute) // QUARTER
