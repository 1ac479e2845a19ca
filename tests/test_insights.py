"""A day's insights: the maths against numbers worked out by hand, the page, the CSV and GraphQL
giving those same numbers for the same day, days in the venue's time zone (the nights the clocks
change included), and who may read them."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from schema import build_schema
from server.actors import Actor
from server.clock import ManualClock
from server.errors import InvalidRequest
from server.insights.charts import charts, hours_shown, minutes
from server.insights.days import bounds, parse_day, slot_of
from server.insights.figures import Figures
from server.insights.sheet import cell
from server.lifecycle import OrderStatus
from server.services import Services
from server.staff.roles import Role
from server.staff.tokens import Tokens
from server.stations.routing import Rule, RuleKind, Station
from server.store import create_store
from tests.conftest import LiveServer, as_staff, mint
from tests.factories import item, make_draft

S = OrderStatus
LONDON = ZoneInfo("Europe/London")
DAY = date(2026, 11, 27)  # a Friday; London keeps GMT in November, so its wall clock reads UTC
LAST_WEEK = DAY - timedelta(days=7)
ADMIN = Actor.staff("manager")
COOK = Actor.staff("pass", Role.KITCHEN)
TILL = Actor.staff("till")  # staff placing an order at the counter: no Dojo product
ORDER_PAY = Actor.dojo({"dojo-requesting-product": "Order&Pay"})
PAY_AT_TABLE = Actor.dojo({"dojo-requesting-product": "Pay at Table"})
INSIGHTS = """query($day: Date) { insights(day: $day) { __typename
  ... on Insights { day lastWeekDay timezone live amberSeconds redSeconds orders lastWeekOrders
    series { label product orderType orders } quarterHours { start counts total lastWeek }
    ticketTime { tickets medianSeconds p90Seconds } lastWeekTicketTime { tickets medianSeconds p90Seconds }
    hours { hour today { tickets medianSeconds p90Seconds } lastWeek { tickets medianSeconds p90Seconds } }
    stations { station name made medianSeconds p90Seconds waiting } lateCount
    late { orderId title arrivedAt readiedAt seconds overSeconds timed } itemMix { name quantity } }
  ... on Problem { message } } }"""


def at(clock: ManualClock, day: date, hh: int, mm: int) -> None:
    clock.advance(datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC) - clock.now())


def dinner(**overrides: Any) -> Any:
    items = overrides.pop("items", [item("Burger", 1090), item("Lager", 510), item("Salad", 700)])
    return make_draft(items=items, discounts=[], taxLines=[], serviceChargeAmount=None, **overrides)


async def ready(services: Services, order_id: str) -> None:
    for status in (S.ACCEPTED, S.PREPARING, S.PREPARED, S.READY):
        await services.orders.move(order_id, status, by=COOK)


async def a_friday(services: Services, clock: ManualClock) -> dict[str, str]:
    """The day the figures below are worked out for, by hand. A grill for burgers, a bar for
    lager, the rest to the kitchen; the KDS's amber 5 and red 10 minutes; timed orders fire 15
    minutes before they are due. Ends at 13:00."""
    prep = services.prep
    await prep.save_station(Station("grill", "Grill", 1), by=ADMIN)
    await prep.save_station(Station("bar", "Bar", 2), by=ADMIN)
    await prep.set_rules("grill", [Rule("grill", RuleKind.PLU_PREFIX, "BUR")], by=ADMIN)
    await prep.set_rules("bar", [Rule("bar", RuleKind.NAME, "*lager*")], by=ADMIN)
    place, ids = services.orders.place, {}

    at(clock, LAST_WEEK, 12, 5)  # last Friday: two tickets, 8 and 12 minutes
    ids["L1"] = (await place(dinner(), by=PAY_AT_TABLE)).id
    at(clock, LAST_WEEK, 12, 13)
    await ready(services, ids["L1"])
    at(clock, LAST_WEEK, 12, 20)
    ids["L2"] = (await place(dinner(), by=PAY_AT_TABLE)).id
    at(clock, LAST_WEEK, 12, 32)
    await ready(services, ids["L2"])

    at(clock, DAY, 12, 0)  # A: each station bumps its part; Ready at 12:07, recalled, Ready at 12:09
    ids["A"] = (await place(dinner(), by=ORDER_PAY)).id
    for minute, station in ((2, "bar"), (4, "grill"), (5, "kitchen")):
        at(clock, DAY, 12, minute)
        await prep.bump(ids["A"], station, by=COOK)
    for minute, status in ((7, S.READY), (8, S.PREPARED), (9, S.READY)):
        at(clock, DAY, 12, minute)
        await services.orders.move(ids["A"], status, by=COOK)

    at(clock, DAY, 12, 10)  # B: two burgers for collection, at the counter; Ready after 15 minutes
    collect = {"orderType": "Collection", "collection": {"asap": True}}
    ids["B"] = (await place(dinner(items=[item("Burger", 1090, 2)], details=collect), by=TILL)).id
    at(clock, DAY, 12, 22)
    await prep.bump(ids["B"], "grill", by=COOK)
    at(clock, DAY, 12, 25)
    await services.orders.move(ids["B"], S.READY, by=COOK)

    at(clock, DAY, 12, 20)  # C: canceled at once
    ids["C"] = (await place(dinner(), by=ORDER_PAY)).id
    await services.orders.cancel(ids["C"], by=ORDER_PAY)

    at(clock, DAY, 12, 30)  # E: a collection for 13:30, placed early: it fires at 13:15
    timed = {"orderType": "Collection", "collection": {"asap": False, "collectAt": "2026-11-27T13:30:00Z"}}
    ids["E"] = (await place(dinner(details=timed), by=ORDER_PAY)).id

    at(clock, DAY, 12, 40)  # D: the bar is done at 12:45; the grill and kitchen still cooking at 13:00
    ids["D"] = (await place(dinner(), by=ORDER_PAY)).id
    at(clock, DAY, 12, 45)
    await prep.bump(ids["D"], "bar", by=COOK)
    at(clock, DAY, 13, 0)
    return ids


def expected(ids: dict[str, str]) -> dict[str, Any]:
    """The day by hand: tickets of 9 (A: 12:00 to its second Ready at 12:09) and 15 minutes (B);
    B is 5 minutes past red, D open for 20 minutes, 10 past red; E has not fired yet; C counts
    only as an order."""
    return {
        "orders": 5,
        "last_week_orders": 2,
        "series": ["Order&Pay · dine in", "Order&Pay · collection", "Staff / POS · collection"],
        "slots": {"12:00": ([1, 0, 1], 1), "12:15": ([1, 0, 0], 1), "12:30": ([1, 1, 0], 0)},
        "ticket_time": (2, 720.0, 900.0),
        "hours": {12: ((2, 720.0, 900.0), (2, 600.0, 720.0))},
        "stations": {
            "kitchen": (1, 300.0, 300.0, 1),  # A's salad in 5 minutes; D's waits
            "grill": (2, 480.0, 720.0, 1),  # A's burger in 4, B's in 12; D's waits; E's has not fired
            "bar": (2, 210.0, 300.0, 0),  # A's lager in 2, D's in 5
        },
        "late_count": 2,
        "late": [(ids["B"], 900.0, 300.0), (ids["D"], 1200.0, 600.0)],
        "item_mix": [("Burger", 5), ("Lager", 3), ("Salad", 3)],
    }


# -- each door's numbers, in one shape ----------------------------------------------------------


def _r(value: Any) -> float | None:
    return None if value in (None, "", "None") else round(float(value), 1)


def of_figures(found: Figures) -> dict[str, Any]:
    return {
        "orders": found.orders,
        "last_week_orders": found.last_week_orders,
        "series": [s.label for s in found.series],
        "slots": {
            f"{s.start:%H:%M}": (list(s.counts), s.last_week) for s in found.slots if s.total or s.last_week
        },
        "ticket_time": (
            found.ticket_time.samples,
            _r(found.ticket_time.median_seconds),
            _r(found.ticket_time.p90_seconds),
        ),
        "hours": {
            h.hour: tuple(
                (t.samples, _r(t.median_seconds), _r(t.p90_seconds)) for t in (h.today, h.last_week)
            )
            for h in found.hours
            if h.today.samples or h.last_week.samples
        },
        "stations": {
            s.station: (s.made, _r(s.median_seconds), _r(s.p90_seconds), s.waiting) for s in found.stations
        },
        "late_count": found.late_count,
        "late": [(t.order_id, _r(t.seconds), _r(t.over_seconds)) for t in found.late],
        "item_mix": list(found.item_mix),
    }


def of_graphql(data: dict[str, Any]) -> dict[str, Any]:
    def timing(t: dict[str, Any]) -> tuple[int, float | None, float | None]:
        return t["tickets"], _r(t["medianSeconds"]), _r(t["p90Seconds"])

    return {
        "orders": data["orders"],
        "last_week_orders": data["lastWeekOrders"],
        "series": [s["label"] for s in data["series"]],
        "slots": {
            q["start"]: (q["counts"], q["lastWeek"])
            for q in data["quarterHours"]
            if q["total"] or q["lastWeek"]
        },
        "ticket_time": timing(data["ticketTime"]),
        "hours": {
            h["hour"]: (timing(h["today"]), timing(h["lastWeek"]))
            for h in data["hours"]
            if h["today"]["tickets"] or h["lastWeek"]["tickets"]
        },
        "stations": {
            s["station"]: (s["made"], _r(s["medianSeconds"]), _r(s["p90Seconds"]), s["waiting"])
            for s in data["stations"]
        },
        "late_count": data["lateCount"],
        "late": [(t["orderId"], _r(t["seconds"]), _r(t["overSeconds"])) for t in data["late"]],
        "item_mix": [(i["name"], i["quantity"]) for i in data["itemMix"]],
    }


def sections(text: str) -> dict[str, list[dict[str, str]]]:
    """The CSV's sections by title, each a list of rows keyed by its header."""
    assert text.startswith("\ufeff")
    found: dict[str, list[dict[str, str]]] = {}
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    while rows:
        title, header = rows.pop(0)[0], rows.pop(0)
        body = []
        while rows and rows[0]:
            body.append(dict(zip(header, rows.pop(0), strict=True)))
        rows.pop(0)  # the blank row after each section
        found[title.split(" (")[0]] = body
    return found


def of_csv(text: str) -> dict[str, Any]:
    found = sections(text)
    summary = {row["figure"]: row for row in found["Summary"]}
    series = [
        name for name in found["Orders per 15 minutes"][0] if name not in ("from", "total", "last week")
    ]

    def hour(row: dict[str, str], prefix: str) -> tuple[int, float | None, float | None]:
        return (
            int(row[f"{prefix}tickets"]),
            _r(row[f"{prefix}median seconds"]),
            _r(row[f"{prefix}p90 seconds"]),
        )

    return {
        "orders": int(summary["orders"]["this day"]),
        "last_week_orders": int(summary["orders"]["same day last week"]),
        "series": series,
        "slots": {
            row["from"]: ([int(row[name]) for name in series], int(row["last week"]))
            for row in found["Orders per 15 minutes"]
            if int(row["total"]) or int(row["last week"])
        },
        "ticket_time": (
            int(summary["ticket time tickets"]["this day"]),
            _r(summary["ticket time median seconds"]["this day"]),
            _r(summary["ticket time p90 seconds"]["this day"]),
        ),
        "hours": {
            int(row["hour"][:2]): (hour(row, ""), hour(row, "last week "))
            for row in found["Ticket time per hour"]
            if int(row["tickets"]) or int(row["last week tickets"])
        },
        "stations": {
            row["station"]: (
                int(row["items made"]),
                _r(row["median seconds"]),
                _r(row["p90 seconds"]),
                int(row["waiting now"]),
            )
            for row in found["Stations"]
        },
        "late_count": int(summary["late tickets"]["this day"]),
        "late": [
            (row["order id"], _r(row["ticket seconds"]), _r(row["seconds past red or due"]))
            for row in found["Late tickets"]
        ],
        "item_mix": [(row["item"], int(row["quantity"])) for row in found["Item mix"]],
    }


class Marked(HTMLParser):
    """Every element's attributes, for the ones that carry a figure in a data attribute."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[dict[str, str]] = []
        self.text_of: dict[int, str] = {}
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append({"tag": tag, **{name: value or "" for name, value in attrs}})

    def handle_data(self, data: str) -> None:
        if self.found and data.strip():
            self.text_of.setdefault(len(self.found) - 1, data.strip())

    def having(self, name: str) -> list[dict[str, str]]:
        return [attrs for attrs in self.found if name in attrs]

    def figure(self, name: str) -> tuple[dict[str, str], str]:
        ((n, attrs),) = [(n, a) for n, a in enumerate(self.found) if a.get("data-figure") == name]
        return attrs, self.text_of[n]


def of_page(html: str) -> dict[str, Any]:
    page = Marked(html)
    median, _ = page.figure("ticket-median")
    p90, _ = page.figure("ticket-p90")
    head = [attrs for attrs in page.found if attrs["tag"] == "th"]
    assert head  # the tables are there for people too
    return {
        "orders": int(page.figure("orders")[1]),
        "last_week_orders": int(page.figure("last-week-orders")[1]),
        "series": [
            page.text_of[n + 1]
            for n, attrs in enumerate(page.found)
            if attrs["tag"] == "li" and page.found[n + 1].get("class", "").startswith("key key-box series-")
        ],
        "slots": {
            row["data-slot"]: ([int(c) for c in row["data-counts"].split(",")], int(row["data-last-week"]))
            for row in page.having("data-slot")
        },
        "ticket_time": (int(median["data-tickets"]), _r(median["data-seconds"]), _r(p90["data-seconds"])),
        "hours": {
            int(row["data-hour"]): (
                (int(row["data-tickets"]), _r(row["data-median"]), _r(row["data-p90"])),
                (int(row["data-last-tickets"]), _r(row["data-last-median"]), _r(row["data-last-p90"])),
            )
            for row in page.having("data-hour")
        },
        "stations": {
            row["data-station"]: (
                int(row["data-made"]),
                _r(row["data-median"]),
                _r(row["data-p90"]),
                int(row["data-waiting"]),
            )
            for row in page.having("data-station")
        },
        "late_count": int(page.figure("late")[1]),
        "late": [
            (row["data-late"], _r(row["data-seconds"]), _r(row["data-over"]))
            for row in page.having("data-late")
        ],
        "item_mix": [(row["data-item"], int(row["data-quantity"])) for row in page.having("data-item")],
    }


def series_labels(html: str) -> list[str]:
    """The orders chart's legend, without each entry's count."""
    return [label.rsplit(":", 1)[0] for label in of_page(html)["series"]]


# -- the maths ----------------------------------------------------------------------------------


async def test_the_figures_are_the_ones_worked_out_by_hand(services: Services, clock: ManualClock):
    ids = await a_friday(services, clock)
    found = await services.insights.day(DAY, by=COOK)
    assert of_figures(found) == expected(ids)
    assert (found.day, found.last_week_day, found.live, found.timezone) == (
        DAY,
        LAST_WEEK,
        True,
        "Europe/London",
    )
    late = {t.order_id: t for t in found.late}
    assert late[ids["B"]].readied_at == datetime(2026, 11, 27, 12, 25, tzinfo=UTC)
    assert late[ids["D"]].readied_at is None  # still cooking: it counts by the clock
    assert [s.name for s in found.stations] == ["Kitchen", "Grill", "Bar"]  # the venue's order


async def test_a_recall_from_ready_runs_the_ticket_on_and_a_hand_over_keeps_its_time(
    services: Services, clock: ManualClock
):
    at(clock, DAY, 11, 0)
    order = await services.orders.place(dinner(), by=ORDER_PAY)
    at(clock, DAY, 11, 4)
    await ready(services, order.id)
    at(clock, DAY, 11, 5)
    await services.orders.move(order.id, S.PREPARED, by=COOK)  # recalled: no longer Ready
    assert (await services.insights.day(DAY, by=COOK)).ticket_time.samples == 0
    at(clock, DAY, 11, 6)
    await services.orders.move(order.id, S.READY, by=COOK)
    at(clock, DAY, 11, 30)
    await services.orders.move(order.id, S.FINALIZED, by=COOK)  # handed over later: still 6 minutes
    assert (await services.insights.day(DAY, by=COOK)).ticket_time.median_seconds == 360.0


async def test_a_day_before_any_order_draws_empty_charts_that_say_so(services: Services):
    found = await services.insights.day(None, by=Actor.staff("office", Role.VIEWER))
    assert (found.orders, found.late_count, found.item_mix, found.day) == (0, 0, (), DAY)
    assert len(found.slots) == 96
    assert len(found.hours) == 24
    assert [chart.empty for chart in charts(found)] == [
        "No orders placed this day",
        "No ticket made Ready this day",
        "No items bumped this day",
        "No items ordered this day",
    ]
    assert hours_shown(found) == (0, 24)


async def test_every_label_of_every_chart_fits_inside_it(services: Services, clock: ManualClock):
    await a_friday(services, clock)
    for chart in charts(await services.insights.day(DAY, by=COOK)):
        for tick in chart.x_ticks:  # centred under its tick, about 6 units a letter
            assert 3 * len(tick.label) <= tick.at <= chart.width - 3 * len(tick.label), (chart.name, tick)
        for tick in chart.y_ticks:  # right-aligned before the axis
            assert chart.left - 5 - 6 * len(tick.label) >= 0, (chart.name, tick)
            assert chart.top <= tick.at <= chart.bottom, (chart.name, tick)
        for bar in chart.bars:
            assert chart.left <= bar.x <= bar.x + bar.width <= chart.right + 0.5, (chart.name, bar)
            assert chart.top - 0.5 <= bar.y <= bar.y + bar.height <= chart.bottom + 0.5, (chart.name, bar)


def test_durations_read_as_a_kitchen_says_them():
    assert [minutes(s) for s in (None, 0, 59.6, 420, 3725)] == ["—", "0:00", "1:00", "7:00", "1:02:05"]


# -- days in the venue's time zone --------------------------------------------------------------


def test_a_day_runs_midnight_to_midnight_on_the_venues_clock_for_23_24_or_25_hours():
    assert bounds(date(2026, 6, 15), LONDON) == (
        datetime(2026, 6, 14, 23, tzinfo=UTC),  # midnight in British Summer Time
        datetime(2026, 6, 15, 23, tzinfo=UTC),
    )
    lengths = {
        day: (lambda b: b[1] - b[0])(bounds(day, LONDON)) for day in (date(2026, 3, 29), date(2026, 10, 25))
    }
    assert lengths == {date(2026, 3, 29): timedelta(hours=23), date(2026, 10, 25): timedelta(hours=25)}


def test_a_quarter_hour_is_read_off_the_wall_clock_so_a_repeated_hour_shares_its_slots():
    first = datetime(2026, 10, 25, 0, 20, tzinfo=UTC)  # 01:20 BST
    second = datetime(2026, 10, 25, 1, 20, tzinfo=UTC)  # 01:20 GMT, an hour later
    assert slot_of(first, LONDON) == slot_of(second, LONDON) == 5
    assert slot_of(datetime(2026, 3, 29, 1, 0, tzinfo=UTC), LONDON) == 8  # 02:00 BST: 01:00-02:00 never was


async def test_an_order_belongs_to_the_day_it_was_placed_on_the_venues_clock(
    services: Services, clock: ManualClock
):
    for moment in (
        "2026-06-14T22:59:00",
        "2026-06-14T23:00:00",
        "2026-06-15T22:59:59",
        "2026-06-15T23:00:00",
    ):
        clock.advance(datetime.fromisoformat(moment).replace(tzinfo=UTC) - clock.now())
        await services.orders.place(dinner(), by=ORDER_PAY)
    at(clock, date(2026, 6, 16), 12, 0)
    found = await services.insights.day(date(2026, 6, 15), by=COOK)
    assert found.orders == 2  # 00:00 and 23:59:59 BST; not 23:59 the night before, nor midnight after
    assert [f"{s.start:%H:%M}" for s in found.slots if s.total] == ["00:00", "23:45"]
    assert (await services.insights.day(date(2026, 6, 16), by=COOK)).orders == 1


async def test_the_night_the_clocks_go_back_every_order_of_its_25_hours_counts(
    services: Services, clock: ManualClock
):
    for hour in range(25):  # one order an hour, 00:30 BST to 23:30 GMT
        clock.advance(datetime(2026, 10, 24, 23, 30, tzinfo=UTC) + timedelta(hours=hour) - clock.now())
        await services.orders.place(dinner(), by=ORDER_PAY)
    found = await services.insights.day(date(2026, 10, 25), by=COOK)
    assert found.orders == 25
    assert {f"{s.start:%H:%M}": s.total for s in found.slots if s.total}["01:30"] == 2  # BST, then GMT


@pytest.mark.parametrize(
    ("asked", "problem"),
    [
        ("2026-13-01", "there is no 2026-13-01"),
        ("2026-02-30", "there is no 2026-02-30"),
        ("yesterday", "'yesterday' is not a date like 2026-11-27"),
        ("20261127", "is not a date like"),
        ("2026-11-28", "2026-11-28 has not begun yet"),
        ("1999-12-31", "is before 2000-01-01"),
    ],
)
def test_a_day_that_is_malformed_or_out_of_range_is_refused_in_words(asked: str, problem: str):
    with pytest.raises(InvalidRequest) as refused:
        parse_day(asked, today=DAY)
    assert problem in refused.value.message
    assert refused.value.field == "day"


def test_no_day_is_today():
    assert parse_day(None, today=DAY) == parse_day(" ", today=DAY) == DAY


# -- the CSV ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["=HYPERLINK(1)", "+1", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_a_csv_cell_a_spreadsheet_would_take_for_a_formula_stays_text(text: str):
    assert cell(text) == "'" + text


def test_numbers_and_plain_text_are_written_as_they_are():
    assert [cell(v) for v in ("Burger", "Order&Pay · dine in", 5, 720.0, 212.25, None)] == [
        "Burger", "Order&Pay · dine in", "5", "720", "212.2", "",
    ]  # fmt: skip


# -- the three doors agree ----------------------------------------------------------------------


@pytest.fixture
async def friday(services: Services, clock: ManualClock, serve: Any) -> tuple[LiveServer, dict[str, str]]:
    ids = await a_friday(services, clock)
    return serve(clock=clock), ids


@asynccontextmanager
async def paired(server: LiveServer, role: Role = Role.VIEWER) -> AsyncIterator[httpx.AsyncClient]:
    """A browser paired as a screen with a token of this role (the office's: a viewer)."""
    token = await mint(server.settings, role, f"{role.value}-screen")
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.get(f"/kds?token={token}")).status_code == 303
        yield client


async def test_the_page_the_csv_and_graphql_give_the_same_numbers_as_worked_out_by_hand(
    friday: tuple[LiveServer, dict[str, str]],
):
    server, ids = friday
    want = expected(ids)
    async with paired(server) as office:
        page = await office.get("/kds/insights", params={"day": DAY.isoformat()})
        sheet = await office.get("/kds/insights.csv", params={"day": DAY.isoformat()})
        live = await office.get("/kds/insights/live", params={"day": DAY.isoformat()})
    token = await mint(server.settings, Role.VIEWER, "office-script")
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as staff:
        answer = (
            await staff.post("/graphql", json={"query": INSIGHTS, "variables": {"day": "2026-11-27"}})
        ).json()
    assert page.status_code == sheet.status_code == live.status_code == 200
    assert sheet.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="orderpass-insights-2026-11-27.csv"' in sheet.headers["content-disposition"]
    data = answer["data"]["insights"]
    assert data["__typename"] == "Insights"
    from_page = of_page(page.text)
    assert from_page.pop("series") == [
        f"{label}: {n}" for label, n in zip(want["series"], (3, 1, 1), strict=True)
    ]
    assert from_page == {key: value for key, value in want.items() if key != "series"}
    assert of_page(live.text) == of_page(page.text)
    assert of_csv(sheet.text) == want
    assert of_graphql(data) == want
    assert (data["day"], data["lastWeekDay"], data["amberSeconds"], data["redSeconds"]) == (
        "2026-11-27",
        "2026-11-20",
        300,
        600,
    )
    assert datetime.fromisoformat(data["late"][0]["arrivedAt"]) == datetime(2026, 11, 27, 12, 10, tzinfo=UTC)


async def test_a_late_ticket_leads_to_its_history(friday: tuple[LiveServer, dict[str, str]]):
    server, ids = friday
    async with paired(server) as office:
        page = (await office.get("/kds/insights")).text
        assert f'href="/kds/orders/{ids["B"]}"' in page
        history = await office.get(f"/kds/orders/{ids['B']}")
        missing = await office.get("/kds/orders/ord_nosuchorder")
    assert history.status_code == 200
    rows = Marked(history.text).having("data-entry")
    assert len(rows) >= 4  # placed, bumped at the grill (which started it), Ready
    assert "Prepared → Ready" in history.text
    assert "12:25:00" in history.text  # on the venue's clock
    assert missing.status_code == 404
    assert "no order ord_nosuchorder" in missing.text


async def test_a_bad_day_gets_a_page_that_says_why_with_the_picker_to_choose_another(
    friday: tuple[LiveServer, dict[str, str]],
):
    server, _ = friday
    async with paired(server) as office:
        for path in ("/kds/insights", "/kds/insights.csv"):
            bad = await office.get(path, params={"day": "2026-11-31"})
            assert bad.status_code == 400
            assert "there is no 2026-11-31" in bad.text
            assert 'input type="date" name="day"' in bad.text
        assert (await office.get("/kds/insights/live", params={"day": "nope"})).status_code == 400
        later = await office.get("/kds/insights", params={"day": "2026-11-28"})
    assert "2026-11-28 has not begun yet" in later.text


async def test_graphql_refuses_a_day_not_yet_begun_as_a_typed_problem(services: Services):
    result = await build_schema().execute(
        INSIGHTS, variable_values={"day": "2026-11-28"}, context_value=as_staff(services, COOK)
    )
    assert result.errors is None
    assert result.data == {
        "insights": {"__typename": "InvalidInput", "message": "day: 2026-11-28 has not begun yet"}
    }


async def test_a_past_days_page_does_not_refresh_and_today_s_does(friday: tuple[LiveServer, dict[str, str]]):
    server, _ = friday
    async with paired(server) as office:
        today = (await office.get("/kds/insights")).text
        before = (await office.get("/kds/insights", params={"day": LAST_WEEK.isoformat()})).text
    assert 'data-live="true"' in today
    assert "insights.js" in today
    assert 'data-live="false"' in before
    assert "insights.js" not in before
    assert 'href="/kds/insights?day=2026-11-21"' in before  # the day after
    assert 'href="/kds/insights?day=2026-11-28"' not in today  # no day after today


async def test_the_csv_escapes_a_menu_item_named_like_a_formula(
    services: Services, clock: ManualClock, serve: Any
):
    names = ['=HYPERLINK("http://evil")', "@SUM(A1)", "+44 Special", "-1 Burger"]
    await services.orders.place(dinner(items=[item(name, 100) for name in names]), by=ORDER_PAY)
    server = serve(clock=clock)
    async with paired(server) as office:
        text = (await office.get("/kds/insights.csv")).text
    mix = {row["item"] for row in sections(text)["Item mix"]}
    assert mix == {"'" + name for name in names}


# -- who may read them --------------------------------------------------------------------------


PATHS = ("/kds/insights", "/kds/insights.csv", "/kds/insights/live", "/kds/orders/ord_x")


@pytest.mark.parametrize("role", list(Role))
async def test_every_staff_role_reads_the_insights(friday: tuple[LiveServer, dict[str, str]], role: Role):
    server, _ = friday
    async with paired(server, role) as screen:
        assert (await screen.get("/kds/insights")).status_code == 200
        assert (await screen.get("/kds/insights.csv")).status_code == 200


@pytest.mark.parametrize("credentials", ["none", "revoked", "garbage"])
async def test_the_page_the_csv_and_graphql_refuse_a_caller_without_a_valid_token(
    friday: tuple[LiveServer, dict[str, str]], credentials: str
):
    server, ids = friday
    cookies, headers = {}, {}
    if credentials == "revoked":
        token = await mint(server.settings, Role.ADMIN, "gone")
        store = create_store(server.settings)
        await Tokens(store=store, clock=ManualClock(datetime.now(UTC))).revoke("gone")
        await store.close()
        cookies, headers = {"orderpass_kds": token}, {"Authorization": f"Bearer {token}"}
    elif credentials == "garbage":
        cookies, headers = {"orderpass_kds": "opt_" + "A" * 43}, {"Authorization": "Bearer opt_" + "A" * 43}
    async with httpx.AsyncClient(base_url=server.url, cookies=cookies, headers=headers) as stranger:
        for path in PATHS:
            response = await stranger.get(path, params={"day": DAY.isoformat()})
            if path == "/kds/insights/live":
                assert response.status_code == 401
            else:
                assert response.status_code == 200
                assert 'action="/kds/login"' in response.text  # the pairing form, nothing else
            assert ids["B"] not in response.text
            assert "Burger" not in response.text
            assert response.headers.get("content-type", "text/html").startswith("text/html")  # never the CSV
        answer = await stranger.post("/graphql", json={"query": INSIGHTS})
    assert answer.status_code == 401
    assert "Burger" not in answer.text


@pytest.mark.parametrize(
    "path",
    ["/KDS/insights", "/kds/Insights", "/kds//insights", "/kds/insights/", "/kds/insights.CSV", "/kds/insights.csv/",
     "/kds/insights%2Ecsv", "/kds/./insights.csv", "/kds/insights/live/", "/kds/orders/", "/kds/orders//x"],
)  # fmt: skip
async def test_odd_spellings_of_the_insights_paths_give_nothing_away(
    friday: tuple[LiveServer, dict[str, str]], path: str
):
    server, _ = friday
    async with httpx.AsyncClient(base_url=server.url, follow_redirects=False) as stranger:
        request = stranger.build_request("GET", server.url)
        request.url = request.url.copy_with(raw_path=path.encode())
        response = await stranger.send(request)
    assert response.status_code in (200, 307, 401, 404), (path, response.status_code)
    assert "Burger" not in response.text
    assert "ord_" not in response.text
    if response.status_code == 200:
        assert 'action="/kds/login"' in response.text
