"""Take the README's pictures of the kitchen display from the real pages: a real server on a fresh
database with the example venue (examples/venue.toml), a seeded `orderpass simulate` run of a
busy night, a few orders moved along, and headless Chromium.

    python -m tests.screenshot static/     (or: make screenshot)

writes, into that folder:
    kds-screenshot.png   the whole board on a 1600x900 wall screen, busy: paged, with timed
                         orders in the scheduled strip
    kds-station.png      the grill's screen on a 1024x768 tablet
    kds-ready.png        the ready board on a phone (390x844)
    kds-insights.png     yesterday's insights on a 1600x900 screen: a busy day (tests/busy_day.py)
                         beside the same weekday a week before
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from playwright.async_api import Browser

from server import revisions, simulate
from server.broker.memory import MemoryBroker
from server.clock import ManualClock
from server.metrics import Metrics
from server.services import Services
from server.settings import Settings
from server.staff.roles import Role
from server.store import create_store
from tests import busy_day
from tests.browser import chromium
from tests.conftest import mint
from tests.processes import DOJO_AUTH, ServerProcess, clean_environment, run

ROOT = Path(__file__).resolve().parents[1]
MOVE = "mutation($id: ID!, $to: OrderStatus!) { moveOrder(id: $id, to: $to) { __typename } }"
ACTIVE = "{ activeOrders(first: 200) { id status bumpTo orderType payable } }"
ORDERS = 44  # a busy night: more than a wall screen holds, so the board pages
BUSY_DAY = 400  # orders in each day the insights picture draws


async def main(folder: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        database = f"sqlite:///{scratch}/screenshot.db"
        await asyncio.to_thread(revisions.upgrade, database)
        token = await mint(Settings(database_url=database), Role.KITCHEN, "pass")
        env = clean_environment()
        env |= {
            "ORDERPASS_DATABASE_URL": database,
            "ORDERPASS_DOJO_USERNAME": DOJO_AUTH[0],
            "ORDERPASS_DOJO_PASSWORD": DOJO_AUTH[1],
        }
        loaded = run("stations", "load", str(ROOT / "examples" / "venue.toml"), env=env)
        assert loaded.returncode == 0, loaded.stderr
        yesterday = await busy_days(database)
        server = ServerProcess(env, args=())
        server.start()
        try:
            await simulate.play(url=server.url, rate=60_000, count=ORDERS, seed=14, auth=DOJO_AUTH)
            await move_some(server.url, token)
            async with chromium() as browser:
                await photograph(
                    browser, f"{server.url}/kds?stage=all", token, (1600, 900), folder / "kds-screenshot.png"
                )
                await photograph(
                    browser, f"{server.url}/kds?station=grill", token, (1024, 768), folder / "kds-station.png"
                )
                await photograph(
                    browser, f"{server.url}/kds/ready", token, (390, 844), folder / "kds-ready.png"
                )
                insights = f"{server.url}/kds/insights?day={yesterday.isoformat()}"
                await photograph(
                    browser, insights, token, (1600, 900), folder / "kds-insights.png", live=False
                )
        finally:
            server.stop()


async def busy_days(database: str) -> date:
    """Yesterday and the same weekday a week before, each a busy day played through the service
    layer on a clock of its own; yesterday, the day the insights picture shows."""
    zone = ZoneInfo(Settings().timezone)
    yesterday = datetime.now(zone).date() - timedelta(days=1)
    settings = Settings(database_url=database, sqlite_synchronous="NORMAL")
    clock = ManualClock(datetime.now(UTC) - timedelta(days=9))
    store = create_store(settings)
    await store.start()
    try:
        services = Services.build(
            settings, store=store, broker=MemoryBroker(), clock=clock, metrics=Metrics()
        )
        for day in (yesterday - timedelta(days=7), yesterday):
            await busy_day.play(services, clock, day, orders=BUSY_DAY)
    finally:
        await store.close()
    return yesterday


async def move_some(url: str, token: str) -> None:
    """The oldest tickets along the pass, so the board shows several statuses, and three paid
    collections ready for the ready board."""
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}) as staff:
        orders = await active(staff)
        collections = [o for o in orders if o["orderType"] == "COLLECTION" and not o["payable"]][:3]
        plan = {o["id"]: steps for o, steps in zip(orders, (2, 1, 1), strict=False)}
        plan |= {o["id"]: 4 for o in collections}  # New to Ready: paid, so the counter may hand them over
        for order_id, steps in plan.items():
            for _ in range(steps):
                current = {o["id"]: o for o in await active(staff)}.get(order_id)
                if current is None or current["bumpTo"] is None:
                    break
                variables = {"id": order_id, "to": current["bumpTo"]}
                await staff.post("/graphql", json={"query": MOVE, "variables": variables})


async def active(staff: httpx.AsyncClient) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = (await staff.post("/graphql", json={"query": ACTIVE})).json()["data"][
        "activeOrders"
    ]
    return orders


async def photograph(
    browser: Browser, url: str, token: str, size: tuple[int, int], target: Path, *, live: bool = True
) -> None:
    """A screen's picture; `live`: once it says so (a day that is over has nothing to follow)."""
    width, height = size
    page = await (await browser.new_context(viewport={"width": width, "height": height})).new_page()
    await page.goto(f"{url.split('/kds')[0]}/kds?token={token}")  # pair, then open the screen
    await page.goto(url)
    await page.wait_for_selector('[data-connection="live"]' if live else "[data-chart] svg")
    if await page.locator('[data-action="unlock"]').count():
        await page.click('[data-action="unlock"]')
    await page.wait_for_timeout(2500)  # timers tick, panels fill
    await page.screenshot(path=str(target))
    print(f"wrote {target}", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "static")))
