"""The kitchen display in a real headless Chromium, against a real server on loopback."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from server import revisions
from server.clock import ManualClock, iso
from server.settings import Settings
from server.staff.roles import Role
from tests.browser import chromium
from tests.conftest import LiveServer, dojo_client, mint, place
from tests.factories import collection_order, item, make_order
from tests.processes import DOJO_AUTH, ServerProcess, clean_environment

LIVE = '[data-connection="live"]'
LONDON = ZoneInfo("Europe/London")
expect.set_options(timeout=10_000)  # generous: CI machines are shared and noisy


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as browser:
        yield browser


@pytest.fixture
async def kitchen_token(live_server: LiveServer) -> str:
    return await mint(live_server.settings, Role.KITCHEN, "pass")


async def screen(browser: Browser, url: str, token: str, stage: str = "all") -> Page:
    """A freshly paired screen, its socket live, and a cook's first tap to start the sound."""
    page = await (await browser.new_context(viewport={"width": 1400, "height": 900})).new_page()
    await page.goto(f"{url}/kds?stage={stage}&token={token}")
    await expect(page.locator(LIVE)).to_be_visible()
    await page.click('[data-action="unlock"]')
    await expect(page.locator("body")).to_have_attribute("data-sound", "on")
    return page


def ticket(page: Page, order_id: str) -> Locator:
    return page.locator(f'[data-order-id="{order_id}"]')


async def test_an_order_placed_through_rest_appears_on_two_screens(browser, live_server, kitchen_token):
    pass_screen, grill_screen = [await screen(browser, live_server.url, kitchen_token) for _ in range(2)]
    async with dojo_client(live_server) as dojo:
        created = (await dojo.post("/v1/orders", json=make_order(note="nut allergy"))).json()
    for page in (pass_screen, grill_screen):
        found = ticket(page, created["id"])
        await expect(found).to_have_count(1)
        await expect(found).to_have_attribute("data-status", "New")
        await expect(found.locator(".note.allergy")).to_contain_text("nut allergy")
        await expect(found.locator("[data-allergen-marker]")).to_contain_text("ALLERGY · NUTS")
        await expect(found.locator(".note:not(.allergy)")).to_have_text(["no onions"])
        await expect(found.locator(".serves")).to_have_text("Table 5")


async def test_a_bump_on_one_screen_shows_on_the_other_and_in_the_store(browser, live_server, kitchen_token):
    async with dojo_client(live_server) as dojo:
        created = (await dojo.post("/v1/orders", json=make_order())).json()
        here, there = [await screen(browser, live_server.url, kitchen_token) for _ in range(2)]
        await ticket(here, created["id"]).locator('[data-action="bump"]').click()
        await expect(ticket(there, created["id"])).to_have_attribute("data-status", "Accepted")
        await expect(ticket(here, created["id"])).to_have_attribute("data-status", "Accepted")
        assert (await dojo.get(f"/v1/orders/{created['id']}")).json()["status"] == "Accepted"


async def test_a_rest_cancel_sounds_its_own_alarm_and_its_banner_stays_until_a_cook_taps_it(
    browser, live_server, kitchen_token
):
    async with dojo_client(live_server) as dojo:
        created = (await dojo.post("/v1/orders", json=make_order())).json()
        context = await browser.new_context(viewport={"width": 1400, "height": 900})
        await context.clock.install()  # the page's timers, under the test's hand
        page = await context.new_page()
        await page.goto(f"{live_server.url}/kds?token={kitchen_token}")
        await page.click('[data-action="unlock"]')
        await expect(page.locator(LIVE)).to_be_visible()
        await expect(ticket(page, created["id"])).to_have_count(1)
        await dojo.delete(f"/v1/orders/{created['id']}")
    canceled = ticket(page, created["id"])
    await expect(canceled).to_have_attribute("data-status", "Canceled")
    await expect(canceled.locator(".banner")).to_contain_text("CANCELED")
    await expect(page.locator("body")).to_have_attribute("data-last-sound", "cancel")
    await page.clock.fast_forward("01:00")  # a minute on: the banner is still there
    await expect(canceled.locator(".banner")).to_be_visible()
    await canceled.locator('[data-action="acknowledge"]').click()
    await expect(canceled).to_have_count(0)


async def test_items_added_to_a_ticket_sound_the_change_alarm_not_the_new_ticket_chime(
    browser, live_server, kitchen_token
):
    order_id = await place(live_server)
    page = await screen(browser, live_server.url, kitchen_token)
    await expect(ticket(page, order_id)).to_have_count(1)
    body = page.locator("body")
    chimes = await body.get_attribute("data-sounds-new")
    token = await mint(live_server.settings, Role.ADMIN, "waiter")
    add = """mutation($id: ID!, $items: [ItemInput!]!) { addItems(orderId: $id, items: $items) { __typename } }"""
    async with httpx.AsyncClient(
        base_url=live_server.url, headers={"Authorization": f"Bearer {token}"}
    ) as staff:
        variables = {"id": order_id, "items": [item("Fries", 300)]}
        assert (await staff.post("/graphql", json={"query": add, "variables": variables})).json()["data"][
            "addItems"
        ]
    await expect(ticket(page, order_id).locator(".line.is-added")).to_have_count(1)
    await expect(body).to_have_attribute("data-last-sound", "change")
    await expect(body).to_have_attribute("data-sounds-change", "1")
    assert await body.get_attribute("data-sounds-new") == chimes


async def test_the_keyboard_selects_bumps_and_recalls(browser, live_server, kitchen_token):
    async with dojo_client(live_server) as dojo:
        first = (await dojo.post("/v1/orders", json=make_order())).json()
        second = (await dojo.post("/v1/orders", json=make_order())).json()
    page = await screen(browser, live_server.url, kitchen_token, stage="kitchen")
    await expect(page.locator("[data-order-id]")).to_have_count(2)
    await page.keyboard.press("2")
    await expect(ticket(page, second["id"])).to_have_class(re.compile(r"\bis-selected\b"))
    await page.keyboard.press("ArrowLeft")
    await expect(ticket(page, first["id"])).to_have_class(re.compile(r"\bis-selected\b"))
    for expected in ("Accepted", "Preparing"):
        await page.keyboard.press("Enter")
        await expect(ticket(page, first["id"])).to_have_attribute("data-status", expected)
    await page.keyboard.press(" ")  # Preparing -> Prepared: off the kitchen screen
    await expect(ticket(page, first["id"])).to_have_count(0)
    # The recall panel refreshes after each change: wait for the entry of this last bump, not the
    # one the previous bump (Accepted -> Preparing) left there a moment ago.
    await expect(page.locator('[data-action="recall-one"][data-expected="PREPARED"]')).to_have_count(1)
    async with page.expect_response(lambda response: response.url.endswith("/graphql")) as answered:
        await page.keyboard.press("r")  # brings it back to Preparing
    recalled = await (await answered.value).json()
    assert recalled["data"]["moveOrder"]["__typename"] == "Order", recalled  # else: what the screen was told
    await expect(ticket(page, first["id"])).to_have_attribute("data-status", "Preparing")


async def test_a_screen_without_a_token_shows_the_pairing_form_and_no_orders(browser, live_server):
    async with dojo_client(live_server) as dojo:
        await dojo.post("/v1/orders", json=make_order())
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{live_server.url}/kds")
    await expect(page.locator("form[action='/kds/login']")).to_be_visible()
    await expect(page.locator("[data-order-id]")).to_have_count(0)
    await page.goto(f"{live_server.url}/kds?token=opt_wrong")
    await expect(page.locator(".login-error")).to_be_visible()
    await expect(page.locator("[data-order-id]")).to_have_count(0)


async def test_pairing_through_the_login_form_keeps_the_token_out_of_reach_of_scripts(
    browser, live_server, kitchen_token
):
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{live_server.url}/kds/login")
    await page.fill("#token", kitchen_token)
    await page.click("button[type=submit]")
    await expect(page.locator(LIVE)).to_be_visible()
    (cookie,) = await context.cookies()
    assert (cookie["httpOnly"], cookie["sameSite"]) == (True, "Strict")
    assert await page.evaluate("document.cookie") == ""


async def test_timers_run_on_the_servers_clock_not_the_tablets(browser, live_server, kitchen_token):
    async with dojo_client(live_server) as dojo:
        created = (await dojo.post("/v1/orders", json=make_order())).json()
    context = await browser.new_context()
    await context.add_init_script("(() => { const real = Date.now; Date.now = () => real() + 3600000; })()")
    page = await context.new_page()  # this tablet's clock is an hour fast
    await page.goto(f"{live_server.url}/kds?token={kitchen_token}")
    timer = ticket(page, created["id"]).locator("[data-timer]")
    await expect(timer).to_have_text(re.compile(r"^0:0\d$"))


async def test_the_ready_board_shows_ready_collection_orders_without_prices(
    browser, live_server, kitchen_token
):
    async with dojo_client(live_server) as dojo:
        created = (await dojo.post("/v1/orders", json=collection_order(reference="SAM-42"))).json()
        page = await (await browser.new_context()).new_page()
        await page.goto(f"{live_server.url}/kds?token={kitchen_token}")
        await page.goto(f"{live_server.url}/kds/ready")
        await expect(page.locator(LIVE)).to_be_visible()
        await expect(page.locator("[data-order-id]")).to_have_count(0)
        await move_through(
            live_server, created["id"], kitchen_token, ["ACCEPTED", "PREPARING", "PREPARED", "READY"]
        )
        tile = ticket(page, created["id"])
        await expect(tile.locator(".ready-name")).to_have_text("Ann E.")  # the customer's name, not in full
        await expect(tile.locator(".ready-ref")).to_have_text("SAM-42")
    assert "£" not in await page.content()


async def move_through(server: LiveServer, order_id: str, token: str, statuses: list[str]) -> None:
    mutation = "mutation($id: ID!, $to: OrderStatus!) { moveOrder(id: $id, to: $to) { __typename } }"
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as client:
        for status in statuses:
            response = await client.post(
                "/graphql", json={"query": mutation, "variables": {"id": order_id, "to": status}}
            )
            assert response.json()["data"]["moveOrder"]["__typename"] == "Order"


async def test_screens_reconnect_by_themselves_after_a_restart_and_show_a_new_order_once(
    browser, tmp_path: Path
):
    database = f"sqlite:///{tmp_path}/restart.db"
    await asyncio.to_thread(revisions.upgrade, database)
    token = await mint(Settings(database_url=database), Role.KITCHEN, "wall")
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
        screens = [await screen(browser, server.url, token) for _ in range(2)]
        server.stop()
        for page in screens:
            await expect(page.locator('[data-connection="reconnecting"]')).to_be_visible(timeout=5000)
        server.start()
        for page in screens:
            await expect(page.locator(LIVE)).to_be_visible(timeout=5000)
        async with httpx.AsyncClient(auth=DOJO_AUTH) as dojo:
            response = await dojo.post(f"{server.url}/v1/orders", json=make_order())
        for page in screens:
            await expect(ticket(page, response.json()["id"])).to_have_count(1)
            await page.wait_for_timeout(500)  # no second copy arrives later
            await expect(page.locator("[data-order-id]")).to_have_count(1)
    finally:
        if server.process is not None and server.process.returncode is None:
            server.stop()


async def test_a_collection_for_later_waits_in_the_scheduled_strip_and_joins_the_line_at_its_fire_time(
    browser, serve
):
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    server = serve(clock=clock)  # the server's clock is the test's: the firing worker reads it
    token = await mint(server.settings, Role.KITCHEN, "pass")
    due = clock.now() + timedelta(minutes=40)
    timed = {"orderType": "Collection", "collection": {"asap": False, "collectAt": iso(due)}}
    order_id = await place(server, details=timed, displayName="Sam", payments=[])
    page = await screen(browser, server.url, token, stage="kitchen")
    waiting = page.locator(f'[data-scheduled-id="{order_id}"]')
    fires = due - timedelta(minutes=15)  # ORDERPASS_PREP_MINUTES
    await expect(waiting.locator(".scheduled-fires")).to_have_text(f"{fires.astimezone(LONDON):%H:%M}")
    await expect(ticket(page, order_id)).to_have_count(0)

    clock.advance(timedelta(minutes=24, seconds=59))
    await page.wait_for_timeout(2000)  # the worker looks every second: not yet
    await expect(ticket(page, order_id)).to_have_count(0)
    clock.advance(timedelta(seconds=1))
    on_line = ticket(page, order_id)
    await expect(on_line).to_have_count(1)  # no change of its own: the worker announced its fire time
    await expect(waiting).to_have_count(0)
    await expect(on_line).to_have_attribute("data-due-at", str(int(due.timestamp() * 1000)))
    await expect(on_line.locator("[data-timer]")).to_have_text(re.compile(r"^due in 1[45]:\d\d$"))
    assert await page.locator("body").get_attribute("data-last-sound") == "new"
