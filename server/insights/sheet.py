"""A day's figures as one CSV an office spreadsheet opens: a section per chart, each a title row,
a header row and its rows, a blank row between. UTF-8 with a byte-order mark (so Excel reads
names as written), times in the venue's time zone, durations in seconds. A text cell that a
spreadsheet would take for a formula (= + - @, or a tab or carriage return first) is written
with a leading apostrophe: an item named `=HYPERLINK(...)` by whoever set up the menu stays text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from server.insights.figures import Figures, Timing

FORMULA: Final = ("=", "+", "-", "@", "\t", "\r")
Cell = str | int | float | None


def sheet(figures: Figures) -> str:
    zone = ZoneInfo(figures.timezone)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    for title, header, rows in _sections(figures, zone):
        writer.writerow([cell(title)])
        writer.writerow([cell(name) for name in header])
        writer.writerows([cell(value) for value in row] for row in rows)
        writer.writerow([])
    return out.getvalue()


def cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}".removesuffix(".0")
    if isinstance(value, int):
        return str(value)
    return "'" + value if value.startswith(FORMULA) else value


Section = tuple[str, Sequence[str], Iterable[Sequence[Cell]]]


def _sections(figures: Figures, zone: ZoneInfo) -> list[Section]:
    labels = [series.label for series in figures.series]
    return [
        ("Insights", ["day", "time zone", "compared with", "amber seconds", "red seconds"], [[
            figures.day.isoformat(), figures.timezone, figures.last_week_day.isoformat(),
            figures.amber_seconds, figures.red_seconds,
        ]]),
        ("Summary", ["figure", "this day", "same day last week"], [
            ["orders", figures.orders, figures.last_week_orders],
            *_timing_rows("ticket time", figures.ticket_time, figures.last_week_ticket_time),
            ["late tickets", figures.late_count, None],
        ]),
        ("Orders per 15 minutes", ["from", *labels, "total", "last week"], [
            [f"{slot.start:%H:%M}", *slot.counts, slot.total, slot.last_week] for slot in figures.slots
        ]),
        ("Ticket time per hour (arrival to Ready)", [
            "hour", "tickets", "median seconds", "p90 seconds",
            "last week tickets", "last week median seconds", "last week p90 seconds",
        ], [
            [f"{hour.hour:02d}:00", *_timing(hour.today), *_timing(hour.last_week)] for hour in figures.hours
        ]),
        ("Stations (arrival there to its bump)", [
            "station", "name", "items made", "median seconds", "p90 seconds", "waiting now",
        ], [
            [s.station, s.name, s.made, s.median_seconds, s.p90_seconds, s.waiting] for s in figures.stations
        ]),
        (f"Late tickets ({figures.late_count})", [
            "order id", "ticket", "arrived", "ready", "ticket seconds", "seconds past red or due", "timed",
        ], [
            [late.order_id, late.title, _local(late.arrived_at, zone), _local(late.readied_at, zone),
             late.seconds, late.over_seconds, "yes" if late.timed else "no"]
            for late in figures.late
        ]),
        ("Item mix (top items, all day)", ["item", "quantity"], [list(pair) for pair in figures.item_mix]),
    ]  # fmt: skip


def _timing(found: Timing) -> list[Cell]:
    return [found.samples, found.median_seconds, found.p90_seconds]


def _timing_rows(name: str, today: Timing, before: Timing) -> list[list[Cell]]:
    return [
        [f"{name} tickets", today.samples, before.samples],
        [f"{name} median seconds", today.median_seconds, before.median_seconds],
        [f"{name} p90 seconds", today.p90_seconds, before.p90_seconds],
    ]


def _local(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return None if moment is None else f"{moment.astimezone(zone):%Y-%m-%d %H:%M:%S}"
