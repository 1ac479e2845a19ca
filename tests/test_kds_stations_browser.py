"""Station screens and the expo in a real headless Chromium, against a real server on loopback:
each station sees and bumps only its own items, and the expo sends out what they have all made."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from server.staff.roles import Role
from tests.browser import chromium
from tests.conftest import LiveServer, dojo_client, mint, place
from tests.factories import item, make_order

LIVE = '[data-connection="live"]'
DONE = re.compile(r"\bis-done\b")
expect.set_options(timeout=10_000)  # generous: CI machines are shared and noisy

SAVE = """mutation($input: StationInput!) {
  saveStation(input: $input) { __typename ... on Problem { message } } }"""
RULES = """mutation($station: String!, $rules: [RuleInput!]!) {
  setRoutingRules(station: $station, rules: $rules) { __typename ... on Problem { message } } }"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as browser:
        yield browser


@pytest.fixture
async def kitchen_token(live_server: LiveServer) -> str:
    return await mint(live_server.settings, Role.KITCHEN, "pass")


@pytest.fixture
async def venue(live_server: LiveServer) -> None:
    """Burgers (PLU BUR…) to the grill, lagers (by name) to the bar, set up by an admin over GraphQL."""
    token = await mint(live_server.settings, Role.ADMIN, "manager")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=live_server.url, headers=headers) as admin:
        for station in (
            {"id": "grill", "name": "Grill", "position": 1},
            {"id": "bar", "name": "Bar", "position": 2},
        ):
            await graphql(admin, SAVE, "saveStation", input=station)
        await graphql(
            admin, RULES, "setRoutingRules", station="grill", rules=[{"kind": "PLU_PREFIX", "pattern": "BUR"}]
        )
        await graphql(
            admin, RULES, "setRoutingRules", station="bar", rules=[{"kind": "NAME", "pattern": "*lager*"}]
        )


async def graphql(client: httpx.AsyncClient, document: str, field: str, **variables: Any) -> None:
    body = (await client.post("/graphql", json={"query": document, "variables": variables})).json()
    assert body["data"][field]["__typename"] == "Stations", body


async def screen(browser: Browser, url: str, token: str, where: str) -> Page:
    """A freshly paired screen (`where`: `station=grill`, `stage=expo`), its socket live."""
    page = await (await browser.new_context(viewport={"width": 1400, "height": 900})).new_page()
    await page.goto(f"{url}/kds?{where}&token={token}")
    await expect(page.locator(LIVE)).to_be_visible()
    await page.click('[data-action="unlock"]')
    return page


def ticket(page: Page, order_id: str) -> Locator:
    return page.locator(f'[data-tickets] [data-order-id="{order_id}"]')


async def status_of(server: LiveServer, order_id: str) -> str:
    async with dojo_client(server) as dojo:
        status: str = (await dojo.get(f"/v1/orders/{order_id}")).json()["status"]
    return status


async def test_two_stations_bump_their_parts_and_the_expo_sends_the_order_out(
    browser, live_server, kitchen_token, venue
):
    grill = await screen(browser, live_server.url, kitchen_token, "station=grill")
    bar = await screen(browser, live_server.url, kitchen_token, "station=bar")
    expo = await screen(browser, live_server.url, kitchen_token, "stage=expo")
    await expect(grill.locator(".bar-title")).to_have_text("Grill")
    await expect(grill.locator('.stations a[aria-current="page"]')).to_have_text("Grill")

    order_id = await place(live_server)
    await expect(ticket(grill, order_id).locator(".line > .name")).to_have_text(["Burger"])
    await expect(ticket(grill, order_id).locator(".sub-items")).to_contain_text("Fries")
    await expect(ticket(bar, order_id).locator(".line > .name")).to_have_text(["Lager"])
    await expect(ticket(bar, order_id)).to_have_attribute("data-status", "New")

    await ticket(grill, order_id).locator('[data-action="bump-station"]').click()
    await expect(ticket(bar, order_id)).to_have_attribute("data-status", "Preparing")  # the grill started it
    await expect(ticket(grill, order_id)).to_have_count(0)  # the grill's part is done
    assert await status_of(live_server, order_id) == "Preparing"
    await expect(ticket(expo, order_id)).to_have_count(0)

    await ticket(bar, order_id).locator('[data-action="bump-station"]').click()
    sent = ticket(expo, order_id)
    await expect(sent).to_have_attribute("data-status", "Prepared")
    await expect(sent.locator(".line")).to_have_class([DONE, DONE])
    await expect(sent.locator(".line-station")).to_have_text(["Grill", "Bar"])
    await expect(ticket(bar, order_id)).to_have_count(0)
    await expect(ticket(grill, order_id)).to_have_count(0)

    await sent.locator('[data-action="bump"]').click()
    await expect(sent).to_have_attribute("data-status", "Ready")
    await sent.locator('[data-action="bump"]').click()
    await expect(ticket(expo, order_id)).to_have_count(0)
    assert await status_of(live_server, order_id) == "Finalized"


async def test_a_tap_bumps_one_item_and_the_station_all_day_counts_only_its_own_left_to_make(
    browser, live_server, kitchen_token, venue
):
    grill = await screen(browser, live_server.url, kitchen_token, "station=grill")
    items = [*make_order()["items"], item("Burger Deluxe", 1290)]  # two lines for the grill, one for the bar
    order_id = await place(live_server, items=items)
    on_grill = ticket(grill, order_id)
    await expect(on_grill.locator(".line > .name")).to_have_text(["Burger", "Burger Deluxe"])
    allday = grill.locator("[data-allday] li")
    await expect(allday).to_have_text(["2 Burger", "2 Fries", "1 Burger Deluxe"])  # no lager: the bar's

    await on_grill.locator('.line[data-line="1"]').click()
    await expect(on_grill.locator('.line[data-line="1"]')).to_have_class(DONE)  # struck, still on the ticket
    await expect(on_grill).to_have_attribute("data-status", "Preparing")
    await expect(on_grill.locator('.line[data-line="3"]')).not_to_have_class(DONE)
    await expect(allday).to_have_text(["1 Burger Deluxe"])

    await on_grill.locator('.line[data-line="3"]').click()
    await expect(on_grill).to_have_count(0)  # all of the grill's part is done; the lager is not
    await expect(grill.locator("[data-allday]")).to_contain_text("Nothing open")
    assert await status_of(live_server, order_id) == "Preparing"


async def test_recall_on_a_station_brings_back_what_it_bumped_last(
    browser, live_server, kitchen_token, venue
):
    grill = await screen(browser, live_server.url, kitchen_token, "station=grill")
    order_id = await place(live_server)
    await ticket(grill, order_id).locator('[data-action="bump-station"]').click()
    await expect(ticket(grill, order_id)).to_have_count(0)
    await expect(grill.locator(f'[data-action="recall-one"][data-recall-id="{order_id}"]')).to_have_count(1)
    async with grill.expect_response(lambda response: response.url.endswith("/graphql")) as answered:
        await grill.keyboard.press("r")
    outcome = (await (await answered.value).json())["data"]["bringBackStation"]
    assert outcome["__typename"] == "Order", outcome
    await expect(ticket(grill, order_id).locator(".line")).not_to_have_class(DONE)
    await expect(ticket(grill, order_id)).to_have_attribute("data-status", "Preparing")


async def test_an_unknown_station_is_a_404_page_naming_the_stations(
    browser, live_server, kitchen_token, venue
):
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{live_server.url}/kds?token={kitchen_token}")
    response = await page.goto(f"{live_server.url}/kds?station=fry")
    assert response is not None
    assert response.status == 404
    await expect(page.locator(".login-error")).to_contain_text("no station 'fry'")
    await expect(page.locator(".screens a")).to_have_text(["All active", "Kitchen", "Grill", "Bar"])
    fragment = await page.request.get(f"{live_server.url}/kds/allday?station=fry")
    assert fragment.status == 404


ADD = """mutation($id: ID!, $items: [ItemInput!]!) {
  addItems(orderId: $id, items: $items) { __typename ... on Problem { message } } }"""
VOID = """mutation($id: ID!, $lines: [Int!]!) {
  voidItems(orderId: $id, lines: $lines) { __typename ... on Problem { message } } }"""


async def test_an_item_added_after_firing_shows_once_as_a_change_and_a_void_is_struck_through(
    browser, live_server, kitchen_token, venue
):
    grill = await screen(browser, live_server.url, kitchen_token, "station=grill")
    everything = await screen(browser, live_server.url, kitchen_token, "stage=all")
    order_id = await place(live_server, payments=[])
    await ticket(grill, order_id).locator('[data-action="bump-station"]').click()
    await expect(ticket(grill, order_id)).to_have_count(0)  # the grill's part was fired and done

    token = await mint(live_server.settings, Role.ADMIN, "waiter")
    async with httpx.AsyncClient(
        base_url=live_server.url, headers={"Authorization": f"Bearer {token}"}
    ) as staff:
        burger = item("Burger", 1090)
        body = {"query": ADD, "variables": {"id": order_id, "items": [burger]}}
        assert (await staff.post("/graphql", json=body)).json()["data"]["addItems"]["__typename"] == "Order"

        back = ticket(grill, order_id)  # the same ticket comes back to the grill with just the new burger
        await expect(back).to_have_count(1)
        await expect(back.locator(".line")).to_have_count(2)
        await expect(back.locator(".line.is-added > .name")).to_have_text(["Burger"])
        await expect(back.locator(".line.is-added .change")).to_have_text("ADDED")
        on_pass = ticket(everything, order_id)
        await expect(on_pass).to_have_count(1)
        await expect(on_pass.locator(".line > .name")).to_have_text(["Burger", "Lager", "Burger"])

        body = {"query": VOID, "variables": {"id": order_id, "lines": [2]}}
        assert (await staff.post("/graphql", json=body)).json()["data"]["voidItems"]["__typename"] == "Order"
        await expect(on_pass.locator(".line.is-voided > .name")).to_have_text(["Lager"])
        await expect(on_pass.locator(".line.is-voided .change")).to_have_text("VOID")
        await expect(ticket(everything, order_id)).to_have_count(1)
