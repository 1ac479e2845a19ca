"""The ready board in a real headless Chromium: customers' names in large type, on a phone without
sideways scrolling; counter staff (a kitchen token) hand an order over with a tap and a second
tap to confirm; an unpaid order says why it cannot go; a viewer's screen offers no tap."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from server.staff.roles import Role
from tests.browser import chromium
from tests.conftest import LiveServer, dojo_client, mint
from tests.factories import make_order
from tests.test_kds_browser import move_through

LIVE = '[data-connection="live"]'
READY = ["ACCEPTED", "PREPARING", "PREPARED", "READY"]
expect.set_options(timeout=10_000)  # generous: CI machines are shared and noisy


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as browser:
        yield browser


async def ready_collection(server: LiveServer, token: str, **overrides: Any) -> str:
    """A collection order taken all the way to Ready."""
    body = make_order(details={"orderType": "Collection", "collection": {"asap": True}}, **overrides)
    async with dojo_client(server) as dojo:
        order_id: str = (await dojo.post("/v1/orders", json=body)).json()["id"]
    await move_through(server, order_id, token, READY)
    return order_id


async def status_of(server: LiveServer, order_id: str) -> str:
    async with dojo_client(server) as dojo:
        status: str = (await dojo.get(f"/v1/orders/{order_id}")).json()["status"]
    return status


async def ready_board(
    browser: Browser, server: LiveServer, token: str, size: tuple[int, int] = (1280, 800)
) -> Page:
    width, height = size
    page = await (await browser.new_context(viewport={"width": width, "height": height})).new_page()
    await page.goto(f"{server.url}/kds?token={token}")  # pairing lands on a board...
    await page.goto(f"{server.url}/kds/ready")  # ...and the counter's screen is the ready board
    await expect(page.locator(LIVE)).to_be_visible()
    return page


async def test_counter_staff_hand_an_order_over_with_a_tap_and_a_second_to_confirm(browser, live_server):
    token = await mint(live_server.settings, Role.KITCHEN, "counter")
    order_id = await ready_collection(live_server, token, customer={"name": "Sam Okafor"}, reference="SAM-42")
    page = await ready_board(browser, live_server, token)
    tile = page.locator(f'[data-order-id="{order_id}"]')
    await expect(tile.locator(".ready-name")).to_have_text("Sam O.")
    await tile.click()
    await expect(tile).to_have_class(re.compile(r"\bis-armed\b"))
    await expect(tile.locator("[data-confirm]")).to_be_visible()
    assert await status_of(live_server, order_id) == "Ready"  # one tap alone hands nothing over
    await tile.click()
    await expect(tile).to_have_count(0)
    assert await status_of(live_server, order_id) == "Finalized"


async def test_an_unpaid_order_is_not_handed_over_and_says_why(browser, live_server):
    token = await mint(live_server.settings, Role.KITCHEN, "counter")
    order_id = await ready_collection(live_server, token, payments=[])
    page = await ready_board(browser, live_server, token)
    tile = page.locator(f'[data-order-id="{order_id}"]')
    await expect(tile.locator(".ready-why")).to_have_text("Unpaid: take payment to hand over")
    await expect(tile).not_to_have_attribute("data-action", "hand-over")
    await tile.click()
    await tile.click()
    await page.wait_for_timeout(500)
    assert await status_of(live_server, order_id) == "Ready"


async def test_a_viewers_ready_board_shows_names_and_offers_no_tap(browser, live_server):
    kitchen = await mint(live_server.settings, Role.KITCHEN, "pass")
    order_id = await ready_collection(live_server, kitchen)  # the customer is Ann Example
    viewer = await mint(live_server.settings, Role.VIEWER, "lobby-tv")
    page = await ready_board(browser, live_server, viewer)
    tile = page.locator(f'[data-order-id="{order_id}"]')
    await expect(tile.locator(".ready-name")).to_have_text("Ann E.")
    assert await tile.get_attribute("data-action") is None
    await tile.click()
    await tile.click()
    await page.wait_for_timeout(500)
    assert await status_of(live_server, order_id) == "Ready"


async def test_the_ready_board_fits_a_phone_without_sideways_scrolling(browser, live_server):
    token = await mint(live_server.settings, Role.KITCHEN, "pass")
    names = ["Bartholomew Featherstonehaugh-Smythe", "Zoë", "Aisha Rahman"]
    for n, name in enumerate(names):
        await ready_collection(
            live_server, token, customer={"name": name}, reference=f"PICKUP-{n:04d}-LONGREFERENCE"
        )
    page = await ready_board(browser, live_server, token, size=(390, 844))
    await expect(page.locator("[data-order-id]")).to_have_count(3)
    await expect(page.locator(".ready-name")).to_have_text(["Bartholomew F.", "Zoë", "Aisha R."])
    assert await page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    for box in [await tile.bounding_box() for tile in await page.locator("[data-order-id]").all()]:
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 390
