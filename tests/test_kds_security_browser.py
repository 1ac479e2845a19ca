"""The kitchen display's security in a real headless Chromium (security issue 11): the pages work
under their Content-Security-Policy, pairing lands a screen back where it was, and a revoked
screen falls back to its pairing page."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from server.clock import SystemClock
from server.staff.roles import Role
from server.staff.tokens import Tokens
from server.store import create_store
from tests.browser import chromium
from tests.conftest import LiveServer, mint, place
from tests.test_kds_browser import move_through
from tests.test_kds_security import CSP

LIVE = '[data-connection="live"]'
expect.set_options(timeout=10_000)  # generous: CI machines are shared and noisy
# Every violation is also reported to the page; the console only shows what Chromium logs.
WATCH_VIOLATIONS = """
window.violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as browser:
        yield browser


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    await context.add_init_script(WATCH_VIOLATIONS)
    yield context
    await context.close()


def csp_complaints(page: Page) -> list[str]:
    """What Chromium logs about the Content-Security-Policy from now on ("Refused to ...")."""
    complaints: list[str] = []

    def heard(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or message.text.startswith("Refused to"):
            complaints.append(message.text)

    page.on("console", heard)
    return complaints


async def pair_through_the_form(page: Page, server: LiveServer, token: str, screen: str) -> None:
    """An unpaired screen opens its address, gets the pairing form, and pairs from it: done once
    the board it lands back on is live (a reload before then raced the form's navigation)."""
    await page.goto(f"{server.url}{screen}")
    await page.fill("#token", token)
    await page.click("button[type=submit]")
    await expect(page.locator(LIVE)).to_be_visible()


async def test_the_board_works_under_its_content_security_policy(live_server, context):
    order_id = await place(live_server)
    token = await mint(live_server.settings, Role.KITCHEN, "pass")
    page = await context.new_page()
    complaints = csp_complaints(page)
    await pair_through_the_form(page, live_server, token, "/kds?stage=kitchen")
    board = await page.reload()
    assert board is not None
    assert board.headers["content-security-policy"] == CSP
    await expect(page.locator(LIVE)).to_be_visible()  # the socket: connect-src 'self' covers ws:
    await page.click('[data-action="unlock"]')
    await page.locator(f'[data-order-id="{order_id}"] [data-action="bump"]').click()
    await expect(page.locator(f'[data-order-id="{order_id}"]')).to_have_attribute("data-status", "Accepted")
    await expect(page.locator("[data-allday] .allday")).to_be_visible()  # a fragment, placed by script
    for screen in ("/kds/ready", "/kds?station=nowhere", "/kds/login"):
        await page.goto(f"{live_server.url}{screen}")
    await page.goto(f"{live_server.url}/kds")
    await expect(page.locator(LIVE)).to_be_visible()
    assert await page.evaluate("window.violations") == []
    assert complaints == []


async def test_pairing_from_a_station_screen_lands_back_on_it(live_server, context):
    token = await mint(live_server.settings, Role.KITCHEN, "grill")
    page = await context.new_page()
    await pair_through_the_form(page, live_server, token, "/kds?station=kitchen")
    await expect(page.locator(LIVE)).to_be_visible()
    assert page.url == f"{live_server.url}/kds?station=kitchen"
    await expect(page.locator("body")).to_have_attribute("data-station", "kitchen")


async def test_a_revoked_screen_reloads_to_its_pairing_page_and_forgets_its_cookie(live_server, context):
    token = await mint(live_server.settings, Role.KITCHEN, "wall")
    page = await context.new_page()
    await page.goto(f"{live_server.url}/kds?token={token}")
    await expect(page.locator(LIVE)).to_be_visible()
    store = create_store(live_server.settings)
    try:
        await Tokens(store=store, clock=SystemClock()).revoke("wall")
    finally:
        await store.close()
    # No reload of our own: the server closes the screen's socket (4401) within seconds, and
    # kds.js reloads the page by itself onto the pairing form (a second reload would race it).
    await expect(page.locator("form[action='/kds/login']")).to_be_visible(timeout=15_000)
    await expect(page.locator("[data-connection]")).to_have_count(0)
    assert await context.cookies() == []


async def test_a_busy_board_counts_the_orders_it_has_no_room_for_as_they_come_and_go(serve, context):
    server = serve(kds_board_limit=2)
    first, _ = [await place(server) for _ in range(2)]
    token = await mint(server.settings, Role.KITCHEN, "pass")
    page = await context.new_page()
    await page.goto(f"{server.url}/kds?stage=kitchen&token={token}")
    await expect(page.locator(LIVE)).to_be_visible()
    await expect(page.locator("[data-order-id]")).to_have_count(2)
    await expect(page.locator(".more")).to_have_count(0)
    third = await place(server)  # no room: counted at the top, not squeezed in
    await expect(page.locator(".more")).to_have_text("+1 more open order not shown")
    await expect(page.locator("[data-order-id]")).to_have_count(2)
    await expect(page.locator(f'[data-order-id="{third}"]')).to_have_count(0)
    await place(server)
    await expect(page.locator(".more")).to_have_text("+2 more open orders not shown")
    await move_through(server, first, token, ["ACCEPTED", "PREPARING", "PREPARED"])  # off the kitchen
    await expect(page.locator(f'[data-order-id="{first}"]')).to_have_count(0)
    await expect(page.locator(".more")).to_have_text("+2 more open orders not shown")  # still not shown
    await expect(page.locator("[data-order-id]")).to_have_count(1)
