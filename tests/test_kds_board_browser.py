"""A busy board in a real headless Chromium, on a wall screen (1600x900) and a tablet (1024x768):
forty open orders in newspaper columns, every one on the page or counted in "+N more", page keys
that reach them all, a selection that is never off screen, a text size each screen keeps, touch
targets a thumb can hit, and a header that fits however many stations there are."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from server.staff.roles import Role
from tests.browser import chromium
from tests.conftest import LiveServer, dojo_client, mint
from tests.factories import item, make_order, modifier

LIVE = '[data-connection="live"]'
SIZES = [(1600, 900), (1024, 768)]
expect.set_options(timeout=10_000)  # generous: CI machines are shared and noisy

# Where each ticket's head is: on this page (inside the board's frame), or off it (counted).
WHERE = """() => {
  const frame = document.querySelector('.tickets-frame').getBoundingClientRect();
  const seen = {on: [], off: [], cut: []};
  for (const ticket of document.querySelectorAll('[data-tickets] [data-order-id]')) {
    const head = ticket.querySelector('.ticket-head').getBoundingClientRect();
    const first = ticket.getClientRects()[0];
    const inside = head.left >= frame.left - 1 && head.right <= frame.right + 1
      && head.top >= frame.top - 1 && first.bottom <= frame.bottom + 1;
    const outside = head.right <= frame.left + 1 || head.left >= frame.right - 1;
    (inside ? seen.on : outside ? seen.off : seen.cut).push(ticket.dataset.orderId);
  }
  const pager = document.querySelector('[data-pager]').dataset;
  const root = document.documentElement;
  return {...seen, later: Number(pager.laterCount), earlier: Number(pager.earlierCount), page: Number(pager.page),
          wide: root.scrollWidth > innerWidth, tall: root.scrollHeight > innerHeight};
}"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as browser:
        yield browser


@pytest.fixture
async def kitchen_token(live_server: LiveServer) -> str:
    return await mint(live_server.settings, Role.KITCHEN, "pass")


async def forty_orders(server: LiveServer) -> list[str]:
    """Forty open orders as a Friday night has them: most of one to four dishes, a few long ones."""
    ids = []
    async with dojo_client(server) as dojo:
        for n in range(40):
            count = 14 if n in (4, 21, 33) else 1 + n % 4
            dishes = [
                item(
                    f"Dish {k}",
                    500,
                    note="no onions" if k % 3 == 2 else None,
                    modifiers=[modifier("Extra Cheese")],
                )
                for k in range(count)
            ]
            body = make_order(
                items=dishes,
                totalAmount={"value": 500 * count, "currencyCode": "GBP"},
                discounts=[],
                taxLines=[],
                serviceChargeAmount=None,
                payments=[],
                note=None if n % 2 else "birthday table",
                reference=f"WALK-IN-{n:05d}",  # long enough to wrap beside its page number
            )
            ids.append((await dojo.post("/v1/orders", json=body)).json()["id"])
    return ids


async def screen(
    browser: Browser, url: str, token: str, size: tuple[int, int], where: str = "stage=all"
) -> Page:
    width, height = size
    page = await (await browser.new_context(viewport={"width": width, "height": height})).new_page()
    await page.goto(f"{url}/kds?{where}&token={token}")
    await expect(page.locator(LIVE)).to_be_visible()
    await page.click('[data-action="unlock"]')
    return page


async def where(page: Page) -> dict[str, Any]:
    found: dict[str, Any] = await page.evaluate(WHERE)
    return found


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
async def test_forty_orders_are_each_on_the_page_or_counted_and_paging_reaches_them_all(
    browser, live_server, kitchen_token, size
):
    ids = await forty_orders(live_server)
    page = await screen(browser, live_server.url, kitchen_token, size)
    await expect(page.locator("[data-tickets] [data-order-id]")).to_have_count(40)
    await expect(page.locator(".continued").first).to_be_visible()  # the long ones go on in the next column

    first = await where(page)
    assert not first["wide"]
    assert not first["tall"]  # nothing scrolls: it pages
    assert first["cut"] == []
    assert first["earlier"] == 0
    assert len(first["on"]) + first["later"] == 40
    assert first["on"] == ids[: len(first["on"])]  # oldest first
    await expect(page.locator("[data-later]")).to_have_text(str(first["later"]))
    for panel in ("allday", "recall"):
        assert await page.locator(f'[data-panel="{panel}"] h2').is_visible()

    reached = list(first["on"])
    for _ in range(40):
        if (await where(page))["later"] == 0:
            break
        await page.keyboard.press("PageDown")
        now = await where(page)
        assert now["cut"] == []
        assert not now["wide"]
        assert len(now["on"]) + now["later"] + now["earlier"] == 40
        assert now["earlier"] == len(reached)
        reached += now["on"]
    assert reached == ids  # every order, once, in order
    await page.keyboard.press("PageUp")
    assert (await where(page))["later"] > 0


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
async def test_the_selection_turns_to_its_page_so_a_bump_lands_on_a_ticket_in_sight(
    browser, live_server, kitchen_token, size
):
    ids = await forty_orders(live_server)
    page = await screen(browser, live_server.url, kitchen_token, size)
    await expect(page.locator("[data-tickets] [data-order-id]")).to_have_count(40)
    await page.keyboard.press("1")  # the first ticket of this page: the oldest
    for _ in range(30):
        await page.keyboard.press("ArrowRight")
    chosen = page.locator(f'[data-order-id="{ids[30]}"]')
    await expect(chosen).to_have_class(re.compile(r"\bis-selected\b"))
    assert ids[30] in (await where(page))["on"]
    await page.keyboard.press("Enter")
    await expect(chosen).to_have_attribute("data-status", "Accepted")
    await expect(chosen.locator("[data-key]")).to_have_text(re.compile(r"^\d$"))  # numbered on its page
    key = await chosen.locator("[data-key]").text_content()
    await page.keyboard.press("ArrowLeft")
    await page.keyboard.press(key or "")
    await expect(chosen).to_have_class(re.compile(r"\bis-selected\b"))


async def test_each_screen_keeps_its_own_text_size(browser, live_server, kitchen_token):
    page = await screen(browser, live_server.url, kitchen_token, SIZES[0])
    root = page.locator("html")
    await expect(root).to_have_attribute("data-text-size", "3")
    await page.click('[data-action="text-larger"]')
    await page.click('[data-action="text-larger"]')
    await expect(root).to_have_attribute("data-text-size", "5")
    assert await page.evaluate("getComputedStyle(document.documentElement).fontSize") == "21px"
    await page.reload()
    await expect(root).to_have_attribute("data-text-size", "5")
    await page.goto(f"{live_server.url}/kds?stage=kitchen")
    await expect(root).to_have_attribute("data-text-size", "3")  # another screen, its own size
    await page.click('[data-action="unlock"]')
    await page.click('[data-action="text-smaller"]')
    await expect(root).to_have_attribute("data-text-size", "2")
    await page.goto(f"{live_server.url}/kds?stage=all")
    await expect(root).to_have_attribute("data-text-size", "5")


SAVE = """mutation($input: StationInput!) { saveStation(input: $input) { __typename } }"""


async def eight_stations(server: LiveServer) -> None:
    token = await mint(server.settings, Role.ADMIN, "manager")
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as admin:
        for n, name in enumerate(
            ["Grill", "Fryer", "Cold Starters", "Pizza Oven", "Pastry", "Bar", "Coffee"], 1
        ):
            station = {"id": re.sub(r"\W+", "-", name.lower()), "name": name, "position": n}
            assert (
                await admin.post("/graphql", json={"query": SAVE, "variables": {"input": station}})
            ).json()["data"]["saveStation"]["__typename"] == "Stations"


@pytest.mark.parametrize("size", [(1600, 900), (1024, 768), (390, 844)], ids=["wall", "tablet", "phone"])
async def test_with_eight_stations_the_header_fits_and_the_indicator_stays_in_sight(
    browser, live_server, kitchen_token, size
):
    await eight_stations(live_server)
    page = await screen(browser, live_server.url, kitchen_token, size, where="station=kitchen")
    indicator = await page.locator(LIVE).bounding_box()
    assert indicator is not None
    assert indicator["x"] >= 0
    assert indicator["x"] + indicator["width"] <= size[0]
    assert indicator["y"] >= 0
    assert indicator["y"] + indicator["height"] <= size[1]
    assert not (await where(page))["wide"]
    assert await page.locator(".stations a").count() == 8


async def test_the_header_never_names_two_things_alike(browser, live_server, kitchen_token):
    await eight_stations(live_server)
    page = await screen(browser, live_server.url, kitchen_token, SIZES[0], where="stage=kitchen")
    for screen_of in ("stage=kitchen", "station=kitchen", "stage=all"):
        await page.goto(f"{live_server.url}/kds?{screen_of}")
        stages = {text.casefold() for text in await page.locator(".stages a").all_text_contents()}
        stations = {text.strip().casefold() for text in await page.locator(".stations a").all_text_contents()}
        assert not stages & stations, (screen_of, stages & stations)
        assert "kitchen station" in stations


async def test_every_touch_target_is_at_least_48_pixels(browser, live_server, kitchen_token):
    ids = await forty_orders(live_server)
    for size, where_to in [*((size, "stage=all") for size in SIZES), (SIZES[1], "station=kitchen")]:
        page = await screen(browser, live_server.url, kitchen_token, size, where=where_to)
        if size == SIZES[0]:  # something to recall: accepted, then started
            for status in ("Accepted", "Preparing"):
                await page.locator(f'[data-order-id="{ids[0]}"] [data-action="bump"]').click()
                await expect(page.locator(f'[data-order-id="{ids[0]}"]')).to_have_attribute(
                    "data-status", status
                )
        await expect(page.locator('[data-action="recall-one"]')).to_have_count(
            0 if "station" in where_to else 1
        )
        targets = ".bar a, .bar button, .bump, .pager button, .recall button, .banner, .line[data-action]"
        heights = await page.eval_on_selector_all(
            targets,
            "all => all.filter(e => e.offsetParent).map(e => [e.textContent.trim().slice(0, 20), e.getBoundingClientRect().height])",
        )
        assert heights
        assert [found for found in heights if found[1] < 48] == []
        if "station" in where_to:  # a cook taps single items there
            assert any(text.startswith("1\u00d7") for text, _ in heights)
