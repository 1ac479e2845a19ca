"""Take the README's picture of the board from the real page: a real server on a fresh database,
a seeded `orderpass simulate` run, a few bumps, and headless Chromium.

    python -m tests.screenshot static/kds-screenshot.png     (or: make screenshot)
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

import httpx

from server import revisions, simulate
from server.settings import Settings
from server.staff.roles import Role
from tests.browser import chromium
from tests.conftest import DOJO_AUTH, mint
from tests.processes import ServerProcess

MOVE = "mutation($id: ID!, $to: OrderStatus!) { moveOrder(id: $id, to: $to) { __typename } }"
ACTIVE = "{ activeOrders { id bumpTo } }"


async def main(target: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite:///{folder}/screenshot.db"
        await asyncio.to_thread(revisions.upgrade, database)
        token = await mint(Settings(database_url=database), Role.KITCHEN, "pass")
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERPASS_")}
        env |= {
            "ORDERPASS_DATABASE_URL": database,
            "ORDERPASS_DOJO_USERNAME": DOJO_AUTH[0],
            "ORDERPASS_DOJO_PASSWORD": DOJO_AUTH[1],
        }
        server = ServerProcess(env, args=())
        server.start()
        try:
            await simulate.play(url=server.url, rate=6000, count=8, seed=11, auth=DOJO_AUTH)
            await bump_some(server.url, token)
            await photograph(server.url, token, target)
        finally:
            server.stop()


async def bump_some(url: str, token: str) -> None:
    """Move the oldest tickets along, so the board shows several statuses."""
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
        orders = (await client.post("/graphql", json={"query": ACTIVE})).json()["data"]["activeOrders"]
        for steps, order in zip((3, 2, 2, 1), orders, strict=False):
            for _ in range(steps):
                current = (await client.post("/graphql", json={"query": ACTIVE})).json()["data"][
                    "activeOrders"
                ]
                bump_to = next(o["bumpTo"] for o in current if o["id"] == order["id"])
                await client.post(
                    "/graphql", json={"query": MOVE, "variables": {"id": order["id"], "to": bump_to}}
                )


async def photograph(url: str, token: str, target: Path) -> None:
    async with chromium() as browser:
        page = await (await browser.new_context(viewport={"width": 1440, "height": 900})).new_page()
        await page.goto(f"{url}/kds?token={token}")
        await page.click('[data-action="unlock"]')
        await page.wait_for_selector('[data-connection="live"]')
        await page.wait_for_timeout(2500)  # timers tick, panels fill
        await page.screenshot(path=str(target))
    print(f"wrote {target}", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "static/kds-screenshot.png")))
