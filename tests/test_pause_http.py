"""Pausing Dojo's ordering over the real doors: a lead pauses through GraphQL, and Dojo's
CreateOrder is refused over REST and over the socket orderpass dials (an EPOSError Dojo can
show the customer), while a retry and other products go through; who may pause; two servers on
one database see the same pause; the kitchen pages' banner and control; the gauge."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from graphql import parse, validate

from schema import build_schema
from server.clock import SystemClock
from server.staff.roles import Role
from server.staff.tokens import Tokens
from server.store import create_store
from tests.conftest import LiveServer, dojo_client, mint
from tests.factories import make_order
from tests.fake_dojo import FakeDojo
from tests.fake_dojo_ws import FakeDojoWs
from tests.test_dojo_socket import socket_settings
from tests.test_graphql_limits import filled
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[1]
PAUSE = """mutation($products: [DojoProduct!]!, $minutes: Int) {
  pauseOrdering(products: $products, minutes: $minutes) {
    __typename ... on Ordering { pauses { product until } } ... on Problem { message } } }"""
RESUME = "mutation { resumeOrdering { __typename ... on Ordering { pauses { product } } } }"
ORDER_AND_PAY = {"dojo-requesting-product": "Order&Pay", "device-type": "Mobile Web"}
LONDON = ZoneInfo("Europe/London")


async def graphql(server: LiveServer, token: str, query: str, **variables: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as staff:
        return await staff.post("/graphql", json={"query": query, "variables": variables})


async def pause(server: LiveServer, token: str, products: list[str], minutes: int | None) -> dict[str, Any]:
    answer = (await graphql(server, token, PAUSE, products=products, minutes=minutes)).json()
    assert answer["data"]["pauseOrdering"]["__typename"] == "Ordering", answer
    return dict(answer["data"]["pauseOrdering"])


@pytest.fixture
async def lead(live_server: LiveServer) -> str:
    return await mint(live_server.settings, Role.KITCHEN, "lead")


# -- Dojo's REST door ---------------------------------------------------------------------------


async def test_over_rest_a_paused_product_gets_a_409_conflict_dojo_can_show_and_the_rest_go_through(
    live_server: LiveServer, lead: str
):
    before = make_order()
    async with dojo_client(live_server, headers=ORDER_AND_PAY) as dojo:
        placed = (await dojo.post("/v1/orders", json=before)).json()
    paused = await pause(live_server, lead, ["ORDER_AND_PAY"], 20)
    until = paused["pauses"][0]["until"]
    async with dojo_client(
        live_server, headers=ORDER_AND_PAY
    ) as dojo:  # every answer checked against Dojo's schema
        refused = await dojo.post("/v1/orders", json=make_order())
        retried = await dojo.post("/v1/orders", json=before)
    assert refused.status_code == 409
    body = refused.json()
    assert body["errorType"] == "Conflict"
    local = datetime.fromisoformat(until).astimezone(LONDON)
    assert body["debugMessage"] == (
        f"The kitchen has paused new orders until {local:%H:%M %Z}. Please try again then."
    )
    assert body["traceId"]  # the one in our log line
    assert retried.status_code == 200  # accepted before the pause: its retry still answers it
    assert retried.json()["id"] == placed["id"]
    for headers in ({}, {"dojo-requesting-product": "Pay at Table"}, {"dojo-requesting-product": "QR"}):
        async with dojo_client(live_server, headers=headers) as dojo:
            assert (await dojo.post("/v1/orders", json=make_order())).status_code == 200
    assert (await graphql(live_server, lead, RESUME)).json()["data"]["resumeOrdering"]["pauses"] == []
    async with dojo_client(live_server, headers=ORDER_AND_PAY) as dojo:
        assert (await dojo.post("/v1/orders", json=make_order())).status_code == 200


async def test_a_staff_order_through_graphql_is_never_paused(live_server: LiveServer, lead: str):
    await pause(live_server, lead, ["ORDER_AND_PAY", "QR"], None)
    admin = await mint(live_server.settings, Role.ADMIN, "office")
    create = "mutation($input: CreateOrderInput!) { createOrder(input: $input) { __typename } }"
    money = {"value": 500, "currencyCode": "GBP"}
    staff_order = {
        "details": {"orderType": "DINE_IN", "dineIn": {"tableId": "3"}},
        "items": [{"name": "Soup", "plu": "SP", "quantity": 1, "amountPerItem": money}],
        "totalAmount": money,
    }
    answer = (await graphql(live_server, admin, create, input=staff_order)).json()
    assert answer["data"]["createOrder"]["__typename"] == "Order"


# -- Dojo's WebSocket door ------------------------------------------------------------------------


@pytest.fixture
def dialled(fake_dojo_ws: FakeDojoWs, fake_dojo: FakeDojo, serve: Callable[..., LiveServer]) -> LiveServer:
    return serve(**socket_settings(fake_dojo_ws, fake_dojo))  # the fakes first: they outlive the server


async def test_over_the_socket_a_paused_product_gets_the_same_eposerror(
    dialled: LiveServer, fake_dojo_ws: FakeDojoWs
):
    before = make_order()
    placed = (await fake_dojo_ws.call("CreateOrderV1", before))["result"]  # headers: Order&Pay
    token = await mint(dialled.settings, Role.KITCHEN, "lead")
    await pause(dialled, token, ["ORDER_AND_PAY"], None)
    refused = await fake_dojo_ws.call("CreateOrderV1", make_order())
    assert refused["error"]["errorType"] == "Conflict"
    assert (
        refused["error"]["debugMessage"]
        == "The kitchen has paused new orders for now. Please try again later."
    )
    assert (await fake_dojo_ws.call("CreateOrderV1", before))["result"]["id"] == placed["id"]
    pay_at_table = {**make_order(), "headers": {"dojoRequestingProduct": "Pay at Table"}}
    assert (await fake_dojo_ws.call("CreateOrderV1", pay_at_table))["result"]["status"] == "New"
    assert fake_dojo_ws.take_violations() == []


# -- who may pause ------------------------------------------------------------------------------


async def test_without_a_token_with_a_viewer_or_a_revoked_token_nothing_is_paused(live_server: LiveServer):
    variables = {"products": ["ORDER_AND_PAY"], "minutes": 10}
    async with httpx.AsyncClient(base_url=live_server.url) as stranger:
        nobody = await stranger.post("/graphql", json={"query": PAUSE, "variables": variables})
    assert nobody.status_code == 401
    viewer = await mint(live_server.settings, Role.VIEWER, "wallboard")
    refused = (await graphql(live_server, viewer, PAUSE, **variables)).json()["data"]["pauseOrdering"]
    assert refused["__typename"] == "Forbidden"
    assert (await graphql(live_server, viewer, RESUME)).json()["data"]["resumeOrdering"][
        "__typename"
    ] == "Forbidden"
    revoked = await mint(live_server.settings, Role.ADMIN, "gone")
    store = create_store(live_server.settings)
    await Tokens(store=store, clock=SystemClock()).revoke("gone")
    await store.close()
    assert (await graphql(live_server, revoked, PAUSE, **variables)).status_code == 401
    answer = (await graphql(live_server, viewer, "{ ordering { pauses { product } } }")).json()
    assert answer == {"data": {"ordering": {"pauses": []}}}  # a viewer reads what is paused


# -- several processes --------------------------------------------------------------------------


async def test_two_servers_on_one_database_refuse_the_same_paused_product(serve, database_url: str):
    shared = {"broker_url": database_url} if database_url.startswith("postgresql") else {}
    first, second = serve(**shared), serve(**shared)
    token = await mint(first.settings, Role.KITCHEN, "lead")
    async with dojo_client(second, headers=ORDER_AND_PAY) as dojo:
        assert (
            await dojo.post("/v1/orders", json=make_order())
        ).status_code == 200  # its copy: nothing paused
    await pause(first, token, ["ORDER_AND_PAY"], 10)

    async def refused_by_second() -> bool:
        async with dojo_client(second, headers=ORDER_AND_PAY) as dojo:
            return (await dojo.post("/v1/orders", json=make_order())).status_code == 409

    started = asyncio.get_running_loop().time()
    await until(refused_by_second, seconds=5)  # NOTIFY on PostgreSQL at once; else its copy's 2 s
    assert asyncio.get_running_loop().time() - started < (1 if shared else 3.5)
    answer = (await graphql(second, token, "{ ordering { pauses { product by { name } } } }")).json()
    assert answer["data"]["ordering"]["pauses"] == [{"product": "ORDER_AND_PAY", "by": {"name": "lead"}}]


# -- the kitchen display's banner and control ---------------------------------------------------


@pytest.fixture
async def screens(live_server: LiveServer) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """A kitchen screen and a viewer's, each paired."""
    clients = {}
    for role in (Role.KITCHEN, Role.VIEWER):
        token = await mint(live_server.settings, role, f"{role.value}-screen")
        client = httpx.AsyncClient(base_url=live_server.url)
        assert (await client.get(f"/kds?token={token}")).status_code == 303
        clients[role.value] = client
    yield clients
    for client in clients.values():
        await client.aclose()


async def test_every_screen_shows_what_is_paused_and_only_a_kitchen_screen_may_change_it(
    live_server: LiveServer, lead: str, screens: dict[str, httpx.AsyncClient]
):
    kitchen, viewer = screens["kitchen"], screens["viewer"]
    quiet = (await kitchen.get("/kds")).text
    assert 'data-action="pause-open"' in quiet
    assert "data-pause-panel" in quiet
    assert 'data-paused="' not in quiet
    assert re.search(r'data-action="pause-open"[^>]*\bdisabled\b', (await viewer.get("/kds")).text)
    assert "data-pause-panel" not in (await viewer.get("/kds")).text
    paused = await pause(live_server, lead, ["QR"], 30)
    until = datetime.fromisoformat(paused["pauses"][0]["until"])
    banner = (await kitchen.get("/kds/pause?stage=all")).text
    assert 'data-paused="QR"' in banner
    assert f'data-until="{int(until.timestamp() * 1000)}"' in banner
    assert f"until {until.astimezone(LONDON):%H:%M}" in banner
    assert "by lead" in banner
    assert 'data-action="resume" data-product="QR"' in banner
    seen_by_viewer = (await viewer.get("/kds/pause")).text
    assert 'data-paused="QR"' in seen_by_viewer
    assert 'data-action="resume"' not in seen_by_viewer
    ready = (await kitchen.get("/kds/ready")).text  # the customers' board: what, not who; no buttons
    assert 'data-paused="QR"' in ready
    assert "by lead" not in ready
    assert 'data-action="resume"' not in ready
    assert "by lead" not in (await kitchen.get("/kds/pause?stage=ready")).text


def test_what_the_pause_control_sends_is_valid_against_the_schema():
    documents = filled((ROOT / "static/kds-pause.js").read_text())
    assert len(documents) == 3
    schema = build_schema()._schema
    assert [validate(schema, parse(document)) for document in documents] == [[], [], []]


# -- the gauge ----------------------------------------------------------------------------------


async def test_metrics_say_which_products_are_paused(live_server: LiveServer, lead: str):
    await pause(live_server, lead, ["ORDER_AND_PAY"], 10)
    async with httpx.AsyncClient(
        base_url=live_server.url, headers={"Authorization": f"Bearer {lead}"}
    ) as client:
        page = (await client.get("/metrics")).text
    assert 'orderpass_ordering_paused{product="ORDER_AND_PAY"} 1.0' in page
    assert 'orderpass_ordering_paused{product="QR"} 0.0' in page
    assert 'product="PAY_AT_TABLE"' not in page


async def test_a_pause_survives_a_restart(serve, database_url: str):
    first = serve()
    token = await mint(first.settings, Role.KITCHEN, "lead")
    await pause(first, token, ["QR"], 30)
    first.stop()
    again = serve()
    async with dojo_client(again, headers={"dojo-requesting-product": "QR"}) as dojo:
        assert (await dojo.post("/v1/orders", json=make_order())).status_code == 409
