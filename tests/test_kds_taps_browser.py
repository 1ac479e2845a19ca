"""Never drop a tap, in a real headless Chromium against the real `orderpass serve`: a bump made
while the server is down waits (the board says so across the screen) and is applied once when it
is back; a tap whose answer was lost is sent again and still applied once; a tap that no longer
applies when it arrives is shown as refused."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, Route, expect

from server import revisions
from server.actors import Actor
from server.broker.memory import MemoryBroker
from server.clock import SystemClock
from server.orders.service import Orders
from server.settings import Settings
from server.staff.roles import Role
from server.store import create_store
from tests.browser import chromium
from tests.conftest import mint
from tests.factories import make_order
from tests.processes import DOJO_AUTH, ServerProcess, clean_environment

LIVE = '[data-connection="live"]'
RECONNECTING = '[data-connection="reconnecting"]'
expect.set_options(timeout=10_000)  # generous: CI machines are shared and noisy
HISTORY = "query($id: ID!) { order(id: $id) { status history { kind fromStatus toStatus } } }"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as browser:
        yield browser


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/taps.db"
    revisions.upgrade(url)
    return url


@pytest.fixture
def server(database: str) -> Iterator[ServerProcess]:
    env = clean_environment()
    env |= {
        "ORDERPASS_DATABASE_URL": database,
        "ORDERPASS_DOJO_USERNAME": DOJO_AUTH[0],
        "ORDERPASS_DOJO_PASSWORD": DOJO_AUTH[1],
        "ORDERPASS_WS_PING_SECONDS": "1",
    }
    process = ServerProcess(env, args=())
    process.start()
    yield process
    if process.process is not None and process.process.returncode is None:
        process.stop()


async def placed(server: ServerProcess) -> str:
    async with httpx.AsyncClient(auth=DOJO_AUTH, base_url=server.url) as dojo:
        response = await dojo.post("/v1/orders", json=make_order())
    order_id: str = response.json()["id"]
    return order_id


async def screen(browser: Browser, server: ServerProcess, token: str) -> Page:
    page = await (await browser.new_context(viewport={"width": 1400, "height": 900})).new_page()
    await page.goto(f"{server.url}/kds?stage=kitchen&token={token}")
    await expect(page.locator(LIVE)).to_be_visible()
    await page.click('[data-action="unlock"]')
    return page


async def moves(server: ServerProcess, token: str, order_id: str) -> tuple[str, list[tuple[Any, Any]]]:
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as staff:
        body = (await staff.post("/graphql", json={"query": HISTORY, "variables": {"id": order_id}})).json()
    order = body["data"]["order"]
    steps = [(e["fromStatus"], e["toStatus"]) for e in order["history"] if e["kind"] == "STATUS_CHANGED"]
    return order["status"], steps


async def test_a_bump_made_while_the_server_is_down_is_applied_once_when_it_is_back(
    browser, server, database
):
    token = await mint(Settings(database_url=database), Role.KITCHEN, "pass")
    order_id = await placed(server)
    page = await screen(browser, server, token)
    ticket = page.locator(f'[data-order-id="{order_id}"]')
    await expect(ticket).to_have_count(1)

    server.stop()
    await expect(page.locator(RECONNECTING)).to_be_visible(timeout=5000)
    await expect(page.locator("[data-offline-banner]")).to_be_visible()  # across the screen
    await expect(page.locator("body")).to_have_attribute("data-offline", "")  # and the board dimmed
    await ticket.locator('[data-action="bump"]').click()
    await expect(ticket).to_have_class(re.compile(r"\bis-queued\b"))  # waiting, and says so
    await page.wait_for_timeout(2500)  # a retry or two against a server that is not there

    server.start()
    await expect(page.locator(LIVE)).to_be_visible(timeout=5000)
    await expect(page.locator("[data-offline-banner]")).to_be_hidden()
    await expect(ticket).to_have_attribute("data-status", "Accepted")
    await expect(ticket).not_to_have_class(re.compile(r"\bis-queued\b"))
    assert await moves(server, token, order_id) == ("ACCEPTED", [("NEW", "ACCEPTED")])


async def test_a_tap_whose_answer_was_lost_is_sent_again_and_applied_once(browser, server, database):
    token = await mint(Settings(database_url=database), Role.KITCHEN, "pass")
    order_id = await placed(server)
    page = await screen(browser, server, token)
    lost: list[str] = []

    async def lose_the_first_answer(route: Route) -> None:
        if not lost:
            answer = await route.fetch()  # the server applies it...
            lost.append(await answer.text())
            await route.abort("connectionreset")  # ...and the screen never hears back
        else:
            await route.continue_()

    await page.route("**/graphql", lose_the_first_answer)
    ticket = page.locator(f'[data-order-id="{order_id}"]')
    await ticket.locator('[data-action="bump"]').click()
    await expect(ticket).to_have_attribute("data-status", "Accepted")
    await page.wait_for_timeout(3000)  # the retry has long been answered
    assert '"Order"' in lost[0]
    assert await moves(server, token, order_id) == ("ACCEPTED", [("NEW", "ACCEPTED")])
    await expect(page.locator("[data-refused-tap]")).to_have_count(0)


async def test_a_tap_that_no_longer_applies_when_the_server_is_back_is_shown_refused(
    browser, server, database
):
    token = await mint(Settings(database_url=database), Role.KITCHEN, "pass")
    order_id = await placed(server)
    page = await screen(browser, server, token)
    ticket = page.locator(f'[data-order-id="{order_id}"]')
    server.stop()
    await expect(page.locator(RECONNECTING)).to_be_visible(timeout=5000)
    await ticket.locator('[data-action="bump"]').click()
    await cancel_behind_the_screens_back(database, order_id)

    server.start()
    refused = page.locator("[data-refused-tap]")
    await expect(refused).to_have_count(1)
    await expect(refused).to_contain_text("Not done")
    await expect(refused).to_contain_text("Canceled")
    await expect(ticket.locator(".banner")).to_contain_text("CANCELED")
    assert (await moves(server, token, order_id))[0] == "CANCELED"
    await page.wait_for_timeout(1000)
    await expect(refused).to_have_count(1)  # it stays until a cook taps it away
    await refused.click()
    await expect(refused).to_have_count(0)


async def cancel_behind_the_screens_back(database: str, order_id: str) -> None:
    """A manager cancels the order on another till while this screen's server is down."""
    store = create_store(Settings(database_url=database))
    try:
        orders = Orders(store=store, broker=MemoryBroker(), clock=SystemClock())
        await orders.cancel(order_id, by=Actor.staff("manager"), reason="customer left")
    finally:
        await store.close()
