"""The insights page in a real headless Chromium: its charts are drawn with axes, units and
legends, readable on a wall screen (1600x900) and a phone (390x844) with nothing running off the
side; nothing is fetched from another origin and nothing breaks the pages' Content-Security-
Policy; a running day follows the kitchen by itself; the board's header leads there, the day
picker to another day, and a late ticket to its history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, Page, Request, expect

from server.clock import ManualClock
from server.staff.roles import Role
from tests.browser import chromium
from tests.conftest import LiveServer, dojo_client, mint
from tests.factories import make_order
from tests.test_kds_browser import move_through
from tests.test_kds_security_browser import WATCH_VIOLATIONS

expect.set_options(timeout=15_000)  # generous: CI machines are shared and noisy
SIZES = {"wall": (1600, 900), "phone": (390, 844)}
# What a reader sees of each chart: its ticks, units and legend, and how big its text is drawn.
CHARTS = """() => Array.from(document.querySelectorAll('[data-chart]'), (chart) => {
  const svg = chart.querySelector('svg').getBoundingClientRect();
  const tick = chart.querySelector('[data-x-tick]');
  return {
    name: chart.dataset.chart,
    xTicks: chart.querySelectorAll('[data-x-tick]').length,
    yTicks: chart.querySelectorAll('[data-y-tick]').length,
    units: Array.from(chart.querySelectorAll('[data-unit]'), (u) => u.textContent),
    legend: Array.from(chart.querySelectorAll('[data-legend] li'), (li) => li.textContent.trim()),
    left: svg.left, right: svg.right, width: svg.width,
    tickHeight: tick ? tick.getBoundingClientRect().height : 0,
    marks: chart.querySelectorAll('rect, polyline, circle').length,
  };
})"""
WIDE = "() => document.documentElement.scrollWidth > innerWidth"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as browser:
        yield browser


async def place(server: LiveServer) -> str:
    """Dojo's Pay at Table places an order (tests.factories.make_order: a table of two)."""
    async with dojo_client(server, headers={"dojo-requesting-product": "Pay at Table"}) as dojo:
        response = await dojo.post("/v1/orders", json=make_order())
    assert response.status_code == 200, response.text
    order_id: str = response.json()["id"]
    return order_id


async def busy(server: LiveServer) -> list[str]:
    """Four orders from Dojo's Pay at Table, two of them made Ready."""
    ids = [await place(server) for _ in range(4)]
    token = await mint(server.settings, Role.KITCHEN, "pass")
    for order_id in ids[:2]:
        await move_through(server, order_id, token, ["ACCEPTED", "PREPARING", "PREPARED", "READY"])
    return ids


async def opened(
    browser: Browser, server: LiveServer, size: tuple[int, int], path: str = "/kds/insights"
) -> tuple[Page, list[str]]:
    """The page on a screen paired with a viewer's token; every address it asked for."""
    token = await mint(server.settings, Role.VIEWER, f"office-{size[0]}")
    context = await browser.new_context(viewport={"width": size[0], "height": size[1]})
    await context.add_init_script(WATCH_VIOLATIONS)
    page = await context.new_page()
    asked: list[str] = []

    def heard(request: Request) -> None:
        asked.append(request.url)

    page.on("request", heard)
    await page.goto(f"{server.url}/kds?token={token}")
    await page.goto(f"{server.url}{path}")
    return page, asked


@pytest.mark.parametrize("screen", list(SIZES))
async def test_the_charts_have_axes_units_and_legends_and_fit_the_screen(browser, live_server, screen):
    await busy(live_server)
    size = SIZES[screen]
    page, asked = await opened(browser, live_server, size)
    await expect(page.locator('[data-connection="live"]')).to_be_visible()
    await expect(page.locator('[data-figure="orders"]')).to_have_text("4")
    charts: list[dict[str, Any]] = await page.evaluate(CHARTS)
    assert [chart["name"] for chart in charts] == ["orders", "tickets", "stations", "mix"]
    for chart in charts:
        assert chart["xTicks"] >= 2, chart
        assert chart["yTicks"] >= 1, chart
        assert chart["units"], chart
        assert chart["marks"] >= 1, chart  # bars, lines or dots: something drawn
        assert chart["left"] >= 0, chart
        assert chart["right"] <= size[0], chart
        assert chart["tickHeight"] >= 9, chart  # a tick's label is readable at arm's length, or across a room
    by_name = {chart["name"]: chart for chart in charts}
    assert any(key.startswith("Pay at Table · dine in: 4") for key in by_name["orders"]["legend"])
    assert any(key.startswith("Same day last week") for key in by_name["orders"]["legend"])
    assert {"Median", "90th percentile"} <= set(by_name["tickets"]["legend"])
    assert any(key.startswith("Red 10:00") for key in by_name["tickets"]["legend"])
    assert by_name["orders"]["units"] == ["time of day", "orders"]
    assert by_name["tickets"]["units"] == ["hour the ticket arrived", "minutes"]
    assert not await page.evaluate(WIDE)
    assert [url for url in asked if not url.startswith(live_server.url)] == []  # nothing from another origin
    assert await page.evaluate("window.violations") == []
    if screen == "wall":
        assert by_name["orders"]["tickHeight"] >= 12  # across a kitchen


async def test_a_running_day_follows_the_kitchen_by_itself(browser, live_server):
    ids = await busy(live_server)
    page, _ = await opened(browser, live_server, SIZES["wall"])
    await expect(page.locator('[data-connection="live"]')).to_be_visible()
    await expect(page.locator('[data-figure="orders"]')).to_have_text("4")
    await place(live_server)  # a change on the feed: the page fetches its figures again
    await expect(page.locator('[data-figure="orders"]')).to_have_text("5")
    token = await mint(live_server.settings, Role.KITCHEN, "expo")
    await move_through(live_server, ids[2], token, ["ACCEPTED", "PREPARING", "PREPARED", "READY"])
    await expect(page.locator('[data-figure="ticket-median"]')).to_have_attribute("data-tickets", "3")
    assert not await page.evaluate(WIDE)


async def test_the_boards_header_leads_to_the_insights_and_the_picker_to_another_day(browser, live_server):
    await busy(live_server)
    page, _ = await opened(browser, live_server, SIZES["wall"], path="/kds")
    await page.click('[data-action="unlock"]')
    await page.click("[data-insights-link]")
    await expect(page).to_have_url(f"{live_server.url}/kds/insights")
    await expect(page.locator('[data-figure="orders"]')).to_have_text("4")
    yesterday = datetime.now(ZoneInfo("Europe/London")).date() - timedelta(days=1)
    await page.fill('input[name="day"]', yesterday.isoformat())
    await page.click('.day-picker button[type="submit"]')
    await expect(page).to_have_url(f"{live_server.url}/kds/insights?day={yesterday.isoformat()}")
    await expect(page.locator('[data-figure="orders"]')).to_have_text("0")
    await expect(page.locator('[data-chart="orders"] .empty')).to_have_text("No orders placed this day")
    await expect(page.locator("[data-connection]")).to_have_count(0)  # a day that is over: nothing to follow
    await page.click('a[aria-label="The day after"]')
    await expect(page.locator('[data-figure="orders"]')).to_have_text("4")


async def test_a_late_ticket_leads_to_its_history(browser, serve, clock: ManualClock):
    server = serve(clock=clock)
    ids = [await place(server) for _ in range(4)]
    clock.advance(timedelta(minutes=12))  # past red: the two made Ready now, and the two still open
    token = await mint(server.settings, Role.KITCHEN, "pass")
    for order_id in ids[:2]:
        await move_through(server, order_id, token, ["ACCEPTED", "PREPARING", "PREPARED", "READY"])
    page, _ = await opened(browser, server, SIZES["phone"])
    await expect(page.locator("[data-late]")).to_have_count(4)
    await page.click(f'[data-late="{ids[0]}"] a')
    await expect(page.locator(f'[data-order-history="{ids[0]}"]')).to_be_visible()
    await expect(page.locator("[data-entry]").first).to_be_visible()
    assert await page.locator("[data-entry]").count() >= 5  # placed, four moves
    assert not await page.evaluate(WIDE)
    async with httpx.AsyncClient(base_url=server.url) as stranger:  # and nobody else may read it
        assert 'action="/kds/login"' in (await stranger.get(f"/kds/orders/{ids[0]}")).text
