"""The KDS pages and fragments over real HTTP: pairing, the cookie, stages and panels."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from sqlalchemy import event
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from server.actors import POS, Actor
from server.floor.model import Area, FloorPlan, Table
from server.lifecycle import OrderStatus
from server.services import Services
from server.staff.roles import Role
from server.staff.screens import COOKIE
from server.stages import STAGES
from server.store import Store
from tests.conftest import LiveServer, dojo_client, lay, mint
from tests.factories import collection_order, item, make_draft, make_order, modifier

MOVE = "mutation($id: ID!, $to: OrderStatus!) { moveOrder(id: $id, to: $to) { __typename } }"


@pytest.fixture
async def kitchen(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client paired as a kitchen screen."""
    token = await mint(live_server.settings, Role.KITCHEN, "pass")
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        paired = await client.get(f"/kds?token={token}")
        assert paired.status_code == 303
        yield client


async def test_pairing_with_a_token_sets_an_httponly_samesite_cookie_and_drops_the_token_from_the_url(
    live_server,
):
    token = await mint(live_server.settings, Role.KITCHEN)
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        response = await client.get(f"/kds?stage=kitchen&token={token}")
    assert response.status_code == 303
    assert response.headers["location"].endswith("/kds?stage=kitchen")
    cookie = response.headers["set-cookie"]
    assert f"{COOKIE}={token}" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie


async def test_without_a_screen_cookie_the_board_is_the_login_page_and_fragments_refuse(live_server):
    async with dojo_client(live_server) as dojo:
        created = (await dojo.post("/v1/orders", json=make_order())).json()
    async with httpx.AsyncClient(base_url=live_server.url) as stranger:
        board = await stranger.get("/kds")
        assert board.status_code == 200
        assert 'action="/kds/login"' in board.text
        assert created["id"] not in board.text
        assert (await stranger.get(f"/kds/tickets/{created['id']}")).status_code == 401
        assert (await stranger.get("/kds/allday")).status_code == 401
        wrong = await stranger.post(
            "/kds/login", data={"token": "opt_nope"}, headers={"Origin": live_server.url}
        )
        assert wrong.status_code == 401


async def test_the_board_shows_its_stage_oldest_first(live_server, kitchen: httpx.AsyncClient):
    async with dojo_client(live_server) as dojo:
        first = (await dojo.post("/v1/orders", json=make_order())).json()
        second = (await dojo.post("/v1/orders", json=collection_order())).json()
    board = (await kitchen.get("/kds?stage=kitchen")).text
    assert board.index(first["id"]) < board.index(second["id"])
    assert 'data-stage="kitchen"' in board
    assert first["id"] not in (await kitchen.get("/kds?stage=expo")).text


async def test_a_ticket_fragment_says_whether_it_belongs_on_the_stage(
    live_server, kitchen: httpx.AsyncClient
):
    async with dojo_client(live_server) as dojo:
        created = (await dojo.post("/v1/orders", json=make_order())).json()
    on_kitchen = await kitchen.get(f"/kds/tickets/{created['id']}?stage=kitchen")
    assert on_kitchen.headers["x-on-stage"] == "1"
    assert f'data-order-id="{created["id"]}"' in on_kitchen.text
    assert 'data-action="bump"' in on_kitchen.text
    assert int(on_kitchen.headers["x-server-time"]) > 0
    assert (await kitchen.get(f"/kds/tickets/{created['id']}?stage=expo")).headers["x-on-stage"] == "0"
    assert (await kitchen.get("/kds/tickets/ord_gone?stage=expo")).status_code == 204


async def test_a_tickets_text_is_escaped_and_marks_exactly_the_parts_naming_an_allergen(
    live_server, kitchen: httpx.AsyncClient
):
    """Names, modifiers and notes are the guest's and the menu's words: shown as text, never as
    markup, each in its own element, and marked `allergy` (with the allergens it names) alone."""
    lines = [
        item(
            "<b>Satay</b> & rice",
            900,
            note='"extra" peanut sauce',
            modifiers=[modifier("Whole <i>milk</i>"), modifier("Lime")],
            subItems=[{**item("Side <salad>", 0), "note": "no dressing"}],
        )
    ]
    async with dojo_client(live_server) as dojo:
        created = (await dojo.post("/v1/orders", json=make_order(items=lines, note=None))).json()
    fragment = (await kitchen.get(f"/kds/tickets/{created['id']}")).text
    assert not any(tag in fragment for tag in ("<b>", "<i>", "<salad>"))
    assert '<span class="name">&lt;b&gt;Satay&lt;/b&gt; &amp; rice</span>' in fragment
    assert '<li class="modifier allergy" data-allergens="MILK">Whole &lt;i&gt;milk&lt;/i&gt;</li>' in fragment
    assert '<li class="modifier">Lime</li>' in fragment
    assert '<span class="name">Side &lt;salad&gt;</span>' in fragment
    assert '<p class="note">no dressing</p>' in fragment
    assert '<p class="note allergy" data-allergens="PEANUTS">&#34;extra&#34; peanut sauce</p>' in fragment


async def test_a_ticket_names_its_table_and_area_where_the_floor_knows_them(
    live_server, kitchen: httpx.AsyncClient
):
    floor = FloorPlan((Area("terrace", "Terrace"),), (Table("5", "Window seat", "terrace"),))
    await lay(live_server.settings, floor)
    async with dojo_client(live_server) as dojo:
        known = (await dojo.post("/v1/orders", json=make_order())).json()  # table 5
        stranger = make_order(details={"orderType": "DineIn", "dineIn": {"tableId": "9"}})
        unknown = (await dojo.post("/v1/orders", json=stranger)).json()
    board = (await kitchen.get("/kds")).text
    assert '<span class="serves">Window seat</span>' in board
    assert '<span class="area">Terrace</span>' in board
    assert '<span class="serves">Table 9</span>' in board  # an order for a table the floor lacks, as before
    fragment = (await kitchen.get(f"/kds/tickets/{known['id']}")).text
    assert '<span class="serves">Window seat</span>' in fragment
    assert '<span class="area">Terrace</span>' in fragment
    assert '<span class="area">' not in (await kitchen.get(f"/kds/tickets/{unknown['id']}")).text


async def test_a_ticket_fetched_again_says_what_is_true_now_for_this_screen(
    live_server, kitchen: httpx.AsyncClient
):
    """Tickets are rendered once for each different ticket and remembered (server/kds/pages.py):
    a screen with other rights, the floor renaming its table and a move of the order each make
    another ticket, never the one rendered before."""
    async with dojo_client(live_server) as dojo:
        created = (await dojo.post("/v1/orders", json=make_order())).json()  # table 5
    path = f"/kds/tickets/{created['id']}?stage=kitchen"
    first = await kitchen.get(path)
    assert 'data-action="bump"' in first.text
    assert '<span class="serves">Table 5</span>' in first.text
    assert first.headers["content-type"] == "text/html; charset=utf-8"
    assert first.headers["cache-control"] == "no-store"
    assert (await kitchen.get(path)).text == first.text  # nothing changed: the same ticket
    token = await mint(live_server.settings, Role.VIEWER, "wall")
    async with httpx.AsyncClient(base_url=live_server.url, cookies={COOKIE: token}) as viewer:
        seen = await viewer.get(path)
    assert seen.status_code == 200
    assert 'data-action="bump"' not in seen.text
    await lay(
        live_server.settings,
        FloorPlan((Area("terrace", "Terrace"),), (Table("5", "Window seat", "terrace"),)),
    )
    assert '<span class="serves">Window seat</span>' in (await kitchen.get(path)).text
    staff = {"Authorization": f"Bearer {await mint(live_server.settings, Role.KITCHEN)}"}
    move = {"query": MOVE, "variables": {"id": created["id"], "to": "ACCEPTED"}}
    moved = await kitchen.post("/graphql", json=move, headers=staff)
    assert moved.json() == {"data": {"moveOrder": {"__typename": "Order"}}}, moved.text
    now = (await kitchen.get(path)).text
    assert 'data-status="Accepted"' in now
    assert 'data-status="Accepted"' not in first.text


async def test_a_ticket_is_made_once_for_each_order_as_read_and_each_stage(services: Services):
    """`Board` keeps the ticket it made for an order as read (the same Order object for the same
    rows) on a stage; another stage, or the order changed, makes another."""
    placed = await services.orders.place(make_draft(), by=POS)
    screen = Actor.staff("pass", Role.KITCHEN)
    kitchen = await services.board.ticket(placed.id, STAGES["kitchen"], screen)
    assert kitchen is not None
    again = await services.board.ticket(placed.id, STAGES["kitchen"], screen)
    assert again is not None
    assert again.ticket is kitchen.ticket
    everything = await services.board.ticket(placed.id, STAGES["all"], screen)
    assert everything is not None
    assert everything.ticket is not kitchen.ticket
    await services.orders.move(placed.id, OrderStatus.ACCEPTED, by=screen)
    moved = await services.board.ticket(placed.id, STAGES["kitchen"], screen)
    assert moved is not None
    assert moved.ticket.status is OrderStatus.ACCEPTED
    assert kitchen.ticket.status is OrderStatus.NEW


async def test_a_board_reads_the_floor_once_for_all_its_tickets(services: Services, store: Store):
    await services.floor.replace_all(
        FloorPlan((Area("in", "Inside"),), (Table("5", "Window", "in"),)), by=POS
    )
    for table in ("5", "6", "5", "7"):
        await services.orders.place(
            make_draft(details={"orderType": "DineIn", "dineIn": {"tableId": table}}), by=POS
        )
    statements: list[str] = []
    event.listen(store.engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    board = await services.board.board(STAGES["all"], Actor.staff("pass", Role.KITCHEN))
    assert sorted(t.serves for t in board.tickets) == ["Table 6", "Table 7", "Window", "Window"]
    assert len([s for s in statements if "floor_tables" in s]) == 1


async def test_the_expo_never_offers_to_hand_over_an_unpaid_order_and_says_why(
    live_server, kitchen: httpx.AsyncClient
):
    token = await mint(live_server.settings, Role.KITCHEN, "expo")
    move = "mutation($id: ID!, $to: OrderStatus!) { moveOrder(id: $id, to: $to) { __typename } }"
    async with dojo_client(live_server) as dojo:
        unpaid = (await dojo.post("/v1/orders", json=make_order(payments=[]))).json()["id"]
        paid = (await dojo.post("/v1/orders", json=make_order())).json()["id"]
    async with httpx.AsyncClient(
        base_url=live_server.url, headers={"Authorization": f"Bearer {token}"}
    ) as staff:
        for order_id in (unpaid, paid):
            for status in ("ACCEPTED", "PREPARING", "PREPARED", "READY"):
                variables = {"id": order_id, "to": status}
                await staff.post("/graphql", json={"query": move, "variables": variables})
    owed = (await kitchen.get(f"/kds/tickets/{unpaid}?stage=expo")).text
    assert 'data-action="bump"' not in owed
    assert "Unpaid: take payment to hand over" in owed
    settled = (await kitchen.get(f"/kds/tickets/{paid}?stage=expo")).text
    assert 'data-to="FINALIZED"' in settled
    assert ">Hand over</button>" in settled


async def test_the_all_day_panel_counts_items_across_open_tickets(live_server, kitchen: httpx.AsyncClient):
    async with dojo_client(live_server) as dojo:
        for _ in range(3):
            await dojo.post("/v1/orders", json=make_order())
    panel = (await kitchen.get("/kds/allday?stage=kitchen")).text
    assert '<span class="count">6</span> Burger' in panel


async def test_a_viewer_screen_shows_tickets_without_bump_buttons(live_server):
    async with dojo_client(live_server) as dojo:
        await dojo.post("/v1/orders", json=make_order())
    token = await mint(live_server.settings, Role.VIEWER, "wall")
    async with httpx.AsyncClient(base_url=live_server.url, follow_redirects=True) as viewer:
        board = (await viewer.get(f"/kds?token={token}")).text
    assert 'data-can-bump="false"' in board
    assert 'data-action="bump"' not in board


async def test_the_screen_cookie_opens_graphql_from_its_own_pages_only(
    live_server, kitchen: httpx.AsyncClient
):
    query = {"query": "{ lastSequence }"}
    assert (await kitchen.post("/graphql", json=query)).status_code == 200
    assert (
        await kitchen.post("/graphql", json=query, headers={"Origin": "https://evil.example"})
    ).status_code == 401
    cookie = f"{COOKIE}={kitchen.cookies[COOKIE]}"
    url = live_server.url.replace("http://", "ws://") + "/graphql"
    protocol = [Subprotocol("graphql-transport-ws")]
    async with connect(url, subprotocols=protocol, additional_headers={"Cookie": cookie}) as ws:
        await ws.send(orjson.dumps({"type": "connection_init"}).decode())
        assert orjson.loads(await ws.recv())["type"] == "connection_ack"
    hijack = {"Cookie": cookie, "Origin": "https://evil.example"}  # another site's page riding the cookie
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, subprotocols=protocol, additional_headers=hijack):
            pass
    assert refused.value.response.status_code == 403
