"""A busy kitchen's open orders (security issue 11, item 9): past the limit a read returns the
oldest and counts the rest, so the newest order is never silently absent, from the service, from
GraphQL's activeOrders, or from a kitchen board."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest

from server.actors import Actor
from server.clock import ManualClock
from server.errors import InvalidRequest
from server.orders.service import Orders
from server.staff.roles import Role
from server.stages import STAGES
from tests.conftest import LiveServer, mint, place
from tests.factories import collection_order, make_draft

DOJO = Actor.dojo({})
MOVE = "mutation($id: ID!, $to: OrderStatus!) { moveOrder(id: $id, to: $to) { __typename } }"
PAGE = "query($first: Int, $after: String) { activeOrders(first: $first, after: $after) { id } activeOrderCount }"


async def place_many(orders: Orders, clock: ManualClock, n: int) -> list[str]:
    placed = []
    for _ in range(n):
        clock.advance(timedelta(seconds=1))  # oldest first is by when they were placed
        placed.append((await orders.place(make_draft(), by=DOJO)).id)
    return placed


async def test_past_the_limit_the_oldest_are_read_and_the_rest_counted(orders: Orders, clock: ManualClock):
    placed = await place_many(orders, clock, 7)
    found = await orders.active(limit=5)
    assert [o.id for o in found.orders] == placed[:5]
    assert found.total == 7  # the two newest: counted, never silently gone
    rest = await orders.active(limit=5, after=placed[4])
    assert [o.id for o in rest.orders] == placed[5:]
    assert await orders.active_count() == 7


async def test_a_screens_orders_are_read_and_counted_on_its_own_stage(orders: Orders, clock: ManualClock):
    await place_many(orders, clock, 3)
    assert (await orders.active(STAGES["expo"])).total == 0
    assert await orders.active_count(STAGES["kitchen"]) == 3


@pytest.mark.parametrize(("limit", "after"), [(0, None), (1001, None), (5, "ord_nowhere")])
async def test_a_page_of_open_orders_must_be_asked_for_sensibly(orders: Orders, limit, after):
    with pytest.raises(InvalidRequest):
        await orders.active(limit=limit, after=after)


async def graphql(server: LiveServer, document: str, **variables: object) -> dict[str, object]:
    token = await mint(server.settings, Role.VIEWER, f"reader-{len(variables)}-{len(document)}")
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as client:
        body = (await client.post("/graphql", json={"query": document, "variables": variables})).json()
    assert "errors" not in body, body
    data: dict[str, object] = body["data"]
    return data


async def test_graphql_pages_active_orders_and_counts_them_all(live_server: LiveServer):
    placed = [await place(live_server) for _ in range(4)]
    everything = await graphql(live_server, "{ activeOrders { id } activeOrderCount }")
    assert everything == {"activeOrders": [{"id": i} for i in placed], "activeOrderCount": 4}  # as before
    first = await graphql(live_server, PAGE, first=3)
    assert first == {"activeOrders": [{"id": i} for i in placed[:3]], "activeOrderCount": 4}
    rest = await graphql(live_server, PAGE, first=3, after=placed[2])
    assert rest["activeOrders"] == [{"id": placed[3]}]


# -- the kitchen board ---------------------------------------------------------------------------

MORE = re.compile(r"\+(\d+) more open orders? not shown")


async def test_a_busy_board_shows_the_oldest_and_says_how_many_more_are_open(serve):
    server = serve(kds_board_limit=5)
    placed = [await place(server) for _ in range(7)]
    token = await mint(server.settings, Role.KITCHEN)
    async with httpx.AsyncClient(base_url=server.url) as screen:
        await screen.get(f"/kds?token={token}")
        board = (await screen.get("/kds?stage=kitchen")).text
        assert [i for i in placed if i in board] == placed[:5]
        found = MORE.search(board)
        assert found is not None
        assert found.group(1) == "2"
        count = (await screen.get("/kds/count?stage=kitchen&shown=5")).text
        assert "+2 more open orders not shown" in count
        live = (await screen.get("/kds/count?stage=kitchen&shown=6")).text  # one arrived live
        assert "+1 more open order not shown" in live
        quiet = (await screen.get("/kds/count?stage=expo&shown=0")).text
        assert MORE.search(quiet) is None
        assert (await screen.get("/kds?stage=expo")).text.count("more open order") == 0


async def test_a_board_reads_only_its_own_orders_before_the_limit(serve):
    """Older dine-in orders, Ready too, must not push the collection order off the ready board."""
    server = serve(kds_board_limit=2)
    placed = [await place(server) for _ in range(3)] + [await place(server, **collection_order())]
    cook = await mint(server.settings, Role.KITCHEN, "cook")
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {cook}"}) as api:
        for order_id in placed:
            for status in ("ACCEPTED", "PREPARING", "PREPARED", "READY"):
                variables = {"id": order_id, "to": status}
                await api.post("/graphql", json={"query": MOVE, "variables": variables})
    token = await mint(server.settings, Role.VIEWER, "wall")
    async with httpx.AsyncClient(base_url=server.url) as screen:
        await screen.get(f"/kds?token={token}")
        ready = (await screen.get("/kds/ready")).text
    assert placed[-1] in ready
    assert MORE.search(ready) is None
