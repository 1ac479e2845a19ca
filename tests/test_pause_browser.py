"""Pausing Dojo's ordering in a real headless Chromium: a lead pauses from the board's header and
every screen shows the banner, counting down; a viewer's screen shows it too but cannot pause;
resuming clears every screen; a pause that runs out (by the server's clock) leaves every screen
by itself; and a screen that was away while a pause began is right as soon as it is back."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from server import revisions
from server.broker.memory import MemoryBroker
from server.clock import ManualClock, SystemClock
from server.ordering.model import DojoProduct
from server.ordering.service import Ordering
from server.settings import Settings
from server.staff.roles import Role
from server.store import create_store
from tests.browser import chromium
from tests.conftest import LiveServer, mint
from tests.factories import make_order
from tests.processes import DOJO_AUTH, ServerProcess, clean_environment
from tests.test_pause import LEAD

LIVE = '[data-connection="live"]'
BANNER = "[data-pause-banner] [data-paused]"
expect.set_options(timeout=10_000)  # generous: CI machines are shared and noisy


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as browser:
        yield browser


async def screen(browser: Browser, url: str, token: str) -> Page:
    page = await (await browser.new_context(viewport={"width": 1400, "height": 900})).new_page()
    await page.goto(f"{url}/kds?token={token}")
    await expect(page.locator(LIVE)).to_be_visible()
    await page.click('[data-action="unlock"]')
    return page


async def until(read: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], seconds: float = 10) -> None:
    for _ in range(int(seconds / 0.1)):
        if done(await read()):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the condition never held")


async def left(page: Page, product: str) -> int:
    """The seconds a screen says are left of a product's pause."""
    text = await page.locator(f'[data-paused="{product}"] [data-pause-left]').inner_text()
    minutes, seconds = re.fullmatch(r"(\d+):(\d\d)", text).groups()  # type: ignore[union-attr]
    return int(minutes) * 60 + int(seconds)


async def test_a_lead_pauses_from_the_header_every_screen_counts_down_and_resume_clears_them(
    browser, live_server: LiveServer
):
    lead = await screen(browser, live_server.url, await mint(live_server.settings, Role.KITCHEN, "lead"))
    wall = await screen(browser, live_server.url, await mint(live_server.settings, Role.VIEWER, "wall"))
    await expect(wall.locator('[data-action="pause-open"]')).to_be_disabled()
    await expect(lead.locator(BANNER)).to_have_count(0)

    await lead.click('[data-action="pause-open"]')
    panel = lead.locator("[data-pause-panel]")
    await expect(panel).to_be_visible()
    await expect(panel.get_by_text("Pay at Table is never paused")).to_be_visible()
    await panel.locator('input[value="QR"]').uncheck()  # Order & Pay only
    await panel.get_by_role("button", name="10 min").click()
    await expect(panel).to_be_hidden()

    for page in (lead, wall):  # the viewer's screen hears it through its subscription
        line = page.locator('[data-paused="ORDER_AND_PAY"]')
        await expect(line).to_contain_text("Order & Pay paused")
        await expect(line.locator("[data-pause-left]")).to_have_text(re.compile(r"^(10:00|9:5\d)$"))
        await expect(page.locator('[data-paused="QR"]')).to_have_count(0)
    await expect(lead.locator('[data-paused="ORDER_AND_PAY"]')).to_contain_text("by lead")
    await expect(wall.locator('[data-paused="ORDER_AND_PAY"] [data-action="resume"]')).to_have_count(0)
    first = await left(wall, "ORDER_AND_PAY")
    await wall.wait_for_timeout(2100)
    assert first - 3 <= await left(wall, "ORDER_AND_PAY") <= first - 1  # counting down, on the screen

    headers = {"dojo-requesting-product": "Order&Pay"}
    async with httpx.AsyncClient(base_url=live_server.url, auth=DOJO_AUTH, headers=headers) as dojo:
        assert (await dojo.post("/v1/orders", json=make_order())).status_code == 409

    await lead.locator('[data-paused="ORDER_AND_PAY"] [data-action="resume"]').click()
    for page in (lead, wall):
        await expect(page.locator(BANNER)).to_have_count(0)
    async with httpx.AsyncClient(base_url=live_server.url, auth=DOJO_AUTH, headers=headers) as dojo:
        assert (await dojo.post("/v1/orders", json=make_order())).status_code == 200


async def test_a_pause_that_runs_out_leaves_every_screen_and_the_history_by_itself(browser, serve):
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    server: LiveServer = serve(clock=clock)  # the server's clock is the test's: its worker reads it
    token = await mint(server.settings, Role.KITCHEN, "lead")
    page = await screen(browser, server.url, token)
    await page.click('[data-action="pause-open"]')
    await page.locator("[data-pause-panel]").get_by_role("button", name="20 min").click()
    await expect(page.locator(BANNER)).to_have_count(2)  # Order & Pay and QR
    clock.advance(timedelta(minutes=19, seconds=50))
    await page.reload()  # the page takes the server's clock again: ten seconds left
    await expect(page.locator(LIVE)).to_be_visible()
    await page.wait_for_timeout(1000)  # the subscription's first word, and the banner it fetched, are in
    assert 0 < await left(page, "QR") <= 10
    clock.advance(timedelta(seconds=10))
    query = {"query": "{ orderingHistory { kind by { kind } } }"}
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as staff:

        async def history() -> list[dict[str, Any]]:
            answer = (await staff.post("/graphql", json=query)).json()
            return list(answer["data"]["orderingHistory"])

        await until(history, lambda found: len(found) == 2)  # the worker looks every second
        # ... and said so: every screen heard it, and fetched its banner again
        await expect(page.locator(BANNER)).to_have_count(0)
        assert await history() == [
            {"kind": "AUTO_RESUMED", "by": {"kind": "POS"}},
            {"kind": "PAUSED", "by": {"kind": "STAFF"}},
        ]


async def test_a_screen_that_was_away_when_ordering_was_paused_shows_it_once_it_is_back(
    browser, tmp_path: Path
):
    database = f"sqlite:///{tmp_path}/away.db"
    await asyncio.to_thread(revisions.upgrade, database)
    settings = Settings(database_url=database)
    token = await mint(settings, Role.KITCHEN, "wall")
    env = clean_environment()
    env |= {
        "ORDERPASS_DATABASE_URL": database,
        "ORDERPASS_DOJO_USERNAME": DOJO_AUTH[0],
        "ORDERPASS_DOJO_PASSWORD": DOJO_AUTH[1],
        "ORDERPASS_WS_PING_SECONDS": "1",
    }
    server = ServerProcess(env, args=())
    server.start()
    try:
        page = await screen(browser, server.url, token)
        server.stop()
        await expect(page.locator('[data-connection="reconnecting"]')).to_be_visible(timeout=5000)
        store = create_store(settings)  # meanwhile, from another process: a pause the screen never heard of
        try:
            ordering = Ordering(store=store, broker=MemoryBroker(), clock=SystemClock(), timezone="Europe/London",
                                minutes=(10, 20, 30))  # fmt: skip
            await ordering.pause([DojoProduct.QR], 30, by=LEAD)
        finally:
            await store.close()
        server.start()
        await expect(page.locator(LIVE)).to_be_visible(timeout=5000)
        await expect(page.locator('[data-paused="QR"]')).to_contain_text("QR ordering paused")
        assert 29 * 60 <= await left(page, "QR") <= 30 * 60
    finally:
        if server.process is not None and server.process.returncode is None:
            server.stop()
