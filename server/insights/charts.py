"""The insights page's charts as geometry, with no I/O: where each bar, line, tick and label
goes in an SVG's own coordinates. One template (`kds_templates/_chart.html`) draws any of them,
on the server: no charting library to ship, nothing fetched from another origin, and nothing
the pages' Content-Security-Policy refuses (colours are classes in static/insights.css, never
inline styles). The SVG scales to its card, so a chart 360 units wide reads at about 11 px on a
phone and 17 px on a wall screen's three columns.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from server.insights.days import QUARTER
from server.insights.figures import Figures, Hour

WIDTH: Final = 360
PALETTE: Final = 6  # series-0 .. series-5 in static/insights.css; more series take them again
MIN_HOURS: Final = 6  # a quiet day's chart still spans a service, not one fat bar
NAME: Final = 22  # characters of an item's or station's name beside its bar


@dataclass(frozen=True, slots=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str  # what a pointer or a screen reader is told


@dataclass(frozen=True, slots=True)
class Path:
    points: str  # "x,y x,y ..."
    css: str


@dataclass(frozen=True, slots=True)
class Dot:
    x: float
    y: float
    css: str
    title: str


@dataclass(frozen=True, slots=True)
class Label:
    x: float
    y: float
    text: str
    css: str
    anchor: str = "start"


@dataclass(frozen=True, slots=True)
class Key:
    """A legend entry: a box of a series' colour, or a line (solid or dashed)."""

    label: str
    css: str
    shape: str = "box"


@dataclass(frozen=True, slots=True)
class Chart:
    name: str  # its id on the page
    title: str
    height: float
    left: float
    bottom: float  # the plot's lower edge, in SVG units from the top
    right: float
    top: float
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    x_unit: str
    y_unit: str
    bars: tuple[Bar, ...] = ()
    paths: tuple[Path, ...] = ()
    dots: tuple[Dot, ...] = ()
    labels: tuple[Label, ...] = ()
    legend: tuple[Key, ...] = ()
    x_grid: bool = False  # vertical grid lines at the x ticks
    y_grid: bool = True
    empty: str | None = None  # said across the plot when there is nothing to draw

    width: float = WIDTH


# -- scales -------------------------------------------------------------------------------------


def nice_top(value: float, steps: Sequence[float] = (1, 2, 5)) -> tuple[float, float]:
    """An axis's top and tick step: the step a 1, 2 or 5 times a power of ten, about four ticks."""
    value = max(value, 1.0)
    raw = value / 4
    power = 10 ** math.floor(math.log10(raw))
    step = next((s * power for s in steps if s * power >= raw), 10 * power)
    return step * math.ceil(value / step), step


def minutes_top(seconds: float) -> tuple[float, float]:
    """A time axis in seconds, ticked in whole minutes a clock reader expects."""
    minutes = max(seconds / 60, 1.0)
    step = next((s for s in (1, 2, 5, 10, 15, 30, 60, 120) if s * 4 >= minutes), 240)
    return step * 60 * math.ceil(minutes / step), step * 60


def minutes(seconds: float | None) -> str:
    """A duration as a kitchen says it: 7:05 (minutes and seconds), or 1:02:05 past an hour."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def hours_shown(figures: Figures) -> tuple[int, int]:
    """The hours the charts span: every hour with an order or a ticket time, today or last
    week, widened to MIN_HOURS; the whole day when there is none."""
    busy = [slot.start.hour for slot in figures.slots if slot.total or slot.last_week]
    busy += [hour.hour for hour in figures.hours if hour.today.samples or hour.last_week.samples]
    if not busy:
        return 0, 24
    first, last = min(busy), max(busy) + 1
    while last - first < MIN_HOURS:  # widened on both sides, as far as the day goes
        last = min(last + 1, 24)
        first = max(first - 1, 0) if last - first < MIN_HOURS else first
    return first, last


def _hour_ticks(first: int, last: int, x: Callable[[float], float]) -> tuple[Tick, ...]:
    every = 1 if last - first <= 7 else 2 if last - first <= 14 else 3
    return tuple(Tick(x(hour), f"{hour % 24:02d}:00") for hour in range(first, last + 1, every))


def _short(name: str) -> str:
    return name if len(name) <= NAME else name[: NAME - 1] + "…"


def _room(names: Sequence[str]) -> float:
    """Where a chart of named bars starts: room for its longest name (about 6 units a letter)."""
    return 14.0 + 6.0 * max([len(_short(name)) for name in names] + [4])


# -- the charts ---------------------------------------------------------------------------------


def orders_chart(figures: Figures) -> Chart:
    """Orders per quarter hour, stacked by series, and last week's as a line beside them."""
    first, last = hours_shown(figures)
    height, left, right, top, bottom = 200.0, 34.0, WIDTH - 18.0, 10.0, 172.0  # room for the last hour
    slots = [slot for slot in figures.slots if first <= slot.start.hour < last]
    most = max([slot.total for slot in slots] + [slot.last_week for slot in slots] + [1])
    y_top, y_step = nice_top(most)
    span = (last - first) * 60

    def x(hour: float) -> float:
        return left + (hour - first) * 60 / span * (right - left)

    def y(value: float) -> float:
        return bottom - value / y_top * (bottom - top)

    width = (right - left) * QUARTER / span
    bars, line = [], []
    for slot in slots:
        start = slot.start.hour + slot.start.minute / 60
        base = 0
        for n, count in enumerate(slot.counts):
            if count:
                series = figures.series[n]
                title = f"{slot.start:%H:%M} {series.label}: {count}"
                bars.append(Bar(x(start) + 0.5, y(base + count), width - 1, y(base) - y(base + count),
                                f"series-{n % PALETTE}", title))  # fmt: skip
            base += count
        line += [f"{x(start):.1f},{y(slot.last_week):.1f}", f"{x(start) + width:.1f},{y(slot.last_week):.1f}"]
    last_week = f"Same day last week ({_day(figures.last_week_day)}): {figures.last_week_orders}"
    legend = [Key(f"{s.label}: {s.orders}", f"series-{n % PALETTE}") for n, s in enumerate(figures.series)]
    return Chart(
        name="orders",
        title=f"Orders per {QUARTER} minutes, {_day(figures.day)}",
        height=height, left=left, bottom=bottom, right=right, top=top,
        x_ticks=_hour_ticks(first, last, x),
        y_ticks=tuple(Tick(y(v), f"{v:g}") for v in _range(y_top, y_step)),
        x_unit="time of day", y_unit="orders",
        bars=tuple(bars),
        paths=(Path(" ".join(line), "last-week"),) if figures.last_week_orders else (),
        legend=(*legend, Key(last_week, "last-week", "dash")),
        empty=None if figures.orders else "No orders placed this day",
    )  # fmt: skip


def ticket_chart(figures: Figures) -> Chart:
    """Median and 90th percentile ticket time per hour, last week's dashed, amber and red ruled."""
    first, last = hours_shown(figures)
    height, left, right, top, bottom = 200.0, 34.0, WIDTH - 18.0, 10.0, 172.0  # room for the last hour
    hours = [hour for hour in figures.hours if first <= hour.hour < last]
    worst = [t.p90_seconds or 0.0 for hour in hours for t in (hour.today, hour.last_week)]
    y_top, y_step = minutes_top(max([figures.red_seconds * 1.15, *worst]))

    def x(hour: float) -> float:
        return left + (hour - first) / (last - first) * (right - left)

    def y(seconds: float) -> float:
        return bottom - min(seconds, y_top) / y_top * (bottom - top)

    paths: list[Path] = []
    dots: list[Dot] = []
    for css, pick in _TICKET_LINES:
        points = [(x(hour.hour + 0.5), y(value), hour) for hour in hours if (value := pick(hour)) is not None]
        paths += [Path(" ".join(f"{px:.1f},{py:.1f}" for px, py, _ in run), css) for run in _runs(points)]
        dots += [Dot(px, py, css, f"{hour.hour:02d}:00 {_named(css)}: {minutes(pick(hour))}")
                 for px, py, hour in points]  # fmt: skip
    amber, red = y(figures.amber_seconds), y(figures.red_seconds)
    rules = [
        Path(f"{left:.1f},{amber:.1f} {right:.1f},{amber:.1f}", "amber"),
        Path(f"{left:.1f},{red:.1f} {right:.1f},{red:.1f}", "red"),
    ]
    samples = figures.ticket_time.samples
    return Chart(
        name="tickets",
        title=f"Ticket time per hour, arrival to Ready, {_day(figures.day)}",
        height=height, left=left, bottom=bottom, right=right, top=top,
        x_ticks=_hour_ticks(first, last, x),
        y_ticks=tuple(Tick(y(v), f"{v / 60:g}") for v in _range(y_top, y_step)),
        x_unit="hour the ticket arrived", y_unit="minutes",
        paths=(*rules, *paths),
        dots=tuple(dots),
        legend=(
            Key("Median", "median", "line"),
            Key("90th percentile", "p90", "line"),
            Key(f"Last week's median ({_day(figures.last_week_day)})", "last-median", "dash"),
            Key("Last week's 90th percentile", "last-p90", "dash"),
            Key(f"Amber {minutes(figures.amber_seconds)}", "amber", "line"),
            Key(f"Red {minutes(figures.red_seconds)}", "red", "line"),
        ),
        empty=None if samples or figures.last_week_ticket_time.samples else "No ticket made Ready this day",
    )  # fmt: skip


_TICKET_LINES: Final[tuple[tuple[str, Callable[[Hour], float | None]], ...]] = (
    ("last-p90", lambda hour: hour.last_week.p90_seconds),
    ("last-median", lambda hour: hour.last_week.median_seconds),
    ("p90", lambda hour: hour.today.p90_seconds),
    ("median", lambda hour: hour.today.median_seconds),
)


def _named(css: str) -> str:
    return {"median": "median", "p90": "90th percentile", "last-median": "last week's median"}.get(
        css, "last week's 90th percentile"
    )


def _runs(points: list[tuple[float, float, Hour]]) -> list[list[tuple[float, float, Hour]]]:
    """Consecutive hours joined; an hour without tickets breaks the line."""
    runs: list[list[tuple[float, float, Hour]]] = []
    for point in points:
        if runs and runs[-1][-1][2].hour == point[2].hour - 1:
            runs[-1].append(point)
        else:
            runs.append([point])
    return [run for run in runs if len(run) > 1]


def stations_chart(figures: Figures) -> Chart:
    """Each station's median from arrival to bump as a bar, its 90th percentile as a tick."""
    stations = figures.stations
    row, top, left, right = 26.0, 8.0, _room([s.name for s in stations]), WIDTH - 12.0
    bottom = top + row * max(len(stations), 1)
    worst = max([s.p90_seconds or 0.0 for s in stations] + [60.0])
    x_top, x_step = minutes_top(worst)

    def x(seconds: float) -> float:
        return left + seconds / x_top * (right - left)

    bars, dots = [], []
    for n, station in enumerate(stations):
        middle = top + row * n + row / 2
        if station.median_seconds is not None:
            title = f"{station.name}: median {minutes(station.median_seconds)}, {station.made} made"
            bars.append(Bar(left, middle - 7, x(station.median_seconds) - left, 14, "median", title))
        if station.p90_seconds is not None:
            dots.append(Dot(x(station.p90_seconds), middle, "p90", f"{station.name}: 90th percentile "
                            f"{minutes(station.p90_seconds)}"))  # fmt: skip
    return Chart(
        name="stations",
        title="Each station: arrival there to its bump",
        height=bottom + 30, left=left, bottom=bottom, right=right, top=top,
        x_ticks=tuple(Tick(x(v), f"{v / 60:g}") for v in _range(x_top, x_step)),
        y_ticks=tuple(Tick(top + row * n + row / 2, _short(s.name)) for n, s in enumerate(stations)),
        x_unit="minutes", y_unit="",
        bars=tuple(bars), dots=tuple(dots),
        legend=(Key("Median", "median"), Key("90th percentile", "p90", "line")),
        x_grid=True, y_grid=False,
        empty=None if any(s.made for s in stations) else "No items bumped this day",
    )  # fmt: skip


def mix_chart(figures: Figures) -> Chart:
    """The top items, all day, by how many were ordered."""
    mix = figures.item_mix
    row, top, left, right = 22.0, 8.0, _room([name for name, _ in mix]), WIDTH - 30.0
    bottom = top + row * max(len(mix), 1)
    x_top, x_step = nice_top(max([count for _, count in mix] + [1]))

    def x(count: float) -> float:
        return left + count / x_top * (right - left)

    bars, labels = [], []
    for n, (name, count) in enumerate(mix):
        middle = top + row * n + row / 2
        bars.append(Bar(left, middle - 7, x(count) - left, 14, "series-0", f"{name}: {count}"))
        labels.append(Label(x(count) + 4, middle + 4, str(count), "value"))
    return Chart(
        name="mix",
        title="Item mix, all day",
        height=bottom + 30, left=left, bottom=bottom, right=right, top=top,
        x_ticks=tuple(Tick(x(v), f"{v:g}") for v in _range(x_top, x_step)),
        y_ticks=tuple(Tick(top + row * n + row / 2, _short(name)) for n, (name, _) in enumerate(mix)),
        x_unit="items ordered", y_unit="",
        bars=tuple(bars), labels=tuple(labels),
        x_grid=True, y_grid=False,
        empty=None if mix else "No items ordered this day",
    )  # fmt: skip


def charts(figures: Figures) -> tuple[Chart, ...]:
    return orders_chart(figures), ticket_chart(figures), stations_chart(figures), mix_chart(figures)


def _range(top: float, step: float) -> list[float]:
    return [step * n for n in range(round(top / step) + 1)]


def _day(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"
