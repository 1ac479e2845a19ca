"""GraphQL over real HTTP and real WebSockets (graphql-transport-ws) against a running server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from server.clock import SystemClock
from server.staff.roles import Role
from server.staff.tokens import Tokens
from server.store import create_store
from tests.conftest import LiveServer, dojo_client, mint
from tests.factories import make_order

SUBSCRIBE = "subscription($since: Int) { orderChanges(since: $since) { sequence kind order { id status } } }"


@pytest.fixture
async def admin_token(live_server: LiveServer) -> str:
    return await mint(live_server.settings, Role.ADMIN)


def ws_url(server: LiveServer) -> str:
    return server.url.replace("http://", "ws://") + "/graphql"


@asynccontextmanager
async def socket(
    server: LiveServer, *, token: str | None = None, header: str | None = None
) -> AsyncIterator[ClientConnection]:
    headers = {"Authorization": header} if header else None
    async with connect(
        ws_url(server), subprotocols=[Subprotocol("graphql-transport-ws")], additional_headers=headers
    ) as ws:
        payload = {"authorization": f"Bearer {token}"} if token else {}
        await ws.send(orjson.dumps({"type": "connection_init", "payload": payload}).decode())
        yield ws


async def receive(ws: ClientConnection, *, skip_pings: bool = True) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        if not (skip_pings and message["type"] == "ping"):
            return message


async def subscribe(ws: ClientConnection, since: int | None, op: str = "1") -> None:
    assert (await receive(ws))["type"] == "connection_ack"
    message = {"id": op, "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": {"since": since}}}
    await ws.send(orjson.dumps(message).decode())


async def changes(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    found = []
    for _ in range(count):
        message = await receive(ws)
        assert message["type"] == "next", message
        found.append(message["payload"]["data"]["orderChanges"])
    return found


# -- HTTP ---------------------------------------------------------------------------------------


async def test_a_query_over_http_with_a_token(live_server: LiveServer, admin_token: str):
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        response = await client.post(
            "/graphql", json={"query": "{ lastSequence }"}, headers={"Authorization": f"Bearer {admin_token}"}
        )
    assert response.status_code == 200
    assert response.json() == {"data": {"lastSequence": 0}}


@pytest.mark.parametrize("header", [None, "Bearer opt_not-a-real-token", "Basic ZG9qbzpzZWNyZXQ=", "Bearer"])
async def test_http_without_a_valid_token_is_401(live_server: LiveServer, header):
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        response = await client.post(
            "/graphql",
            json={"query": "{ lastSequence }"},
            headers={"Authorization": header} if header else {},
        )
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHORIZED"


async def test_a_revoked_token_is_refused(live_server: LiveServer):
    token = await mint(live_server.settings, Role.VIEWER, "leaked")
    store = create_store(live_server.settings)
    await Tokens(store=store, clock=SystemClock()).revoke("leaked")
    await store.close()
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        response = await client.post(
            "/graphql", json={"query": "{ lastSequence }"}, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 401


async def test_a_browser_without_a_token_is_sent_to_the_graphiql_page(live_server: LiveServer):
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 303
    assert page.headers["location"] == "/graphiql"


async def test_a_kitchen_token_cannot_create_orders_over_http(live_server: LiveServer):
    token = await mint(live_server.settings, Role.KITCHEN)
    mutation = """mutation { createOrder(input: {details: {orderType: COLLECTION, collection: {asap: true}},
        items: [], totalAmount: {value: 0, currencyCode: "GBP"}}) { __typename ... on Problem { message } } }"""
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        response = await client.post(
            "/graphql", json={"query": mutation}, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.json()["data"]["createOrder"]["__typename"] == "Forbidden"


# -- WebSocket ----------------------------------------------------------------------------------


async def test_a_socket_without_a_valid_token_is_closed_with_4401(live_server: LiveServer):
    for token, header in [(None, None), ("opt_wrong", None), (None, "Bearer opt_wrong")]:
        async with socket(live_server, token=token, header=header) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await receive(ws)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401


async def test_graphiqls_capitalised_authorization_in_connection_init_is_accepted(live_server, admin_token):
    async with connect(ws_url(live_server), subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        payload = {"Authorization": f"Bearer {admin_token}"}
        await ws.send(orjson.dumps({"type": "connection_init", "payload": payload}).decode())
        assert (await receive(ws))["type"] == "connection_ack"


async def test_the_token_may_come_on_the_upgrade_header(live_server: LiveServer, admin_token: str):
    async with socket(live_server, header=f"Bearer {admin_token}") as ws:
        assert (await receive(ws))["type"] == "connection_ack"


async def test_the_server_pings_a_quiet_socket(serve):
    server: LiveServer = serve(ws_ping_seconds=0.2)
    token = await mint(server.settings, Role.VIEWER)
    async with socket(server, token=token) as ws:
        assert (await receive(ws))["type"] == "connection_ack"
        assert (await receive(ws, skip_pings=False))["type"] == "ping"


async def test_a_rest_create_order_reaches_a_graphql_subscriber(live_server: LiveServer, admin_token: str):
    async with socket(live_server, token=admin_token) as ws, dojo_client(live_server) as dojo:
        await subscribe(ws, since=0)  # what a screen does: subscribe since the newest change it has
        created = (await dojo.post("/v1/orders", json=make_order())).json()
        (change,) = await changes(ws, 1)
    assert change["kind"] == "CREATED"
    assert change["order"] == {"id": created["id"], "status": "NEW"}


async def test_a_subscriber_that_drops_and_resubscribes_with_since_misses_nothing(
    live_server: LiveServer, admin_token: str
):
    async with dojo_client(live_server) as dojo:
        async with socket(live_server, token=admin_token) as ws:
            await subscribe(ws, since=0)
            await dojo.post("/v1/orders", json=make_order())
            seen = await changes(ws, 1)
        # dropped: these happen while nobody listens
        created = [(await dojo.post("/v1/orders", json=make_order())).json() for _ in range(3)]
        await dojo.delete(f"/v1/orders/{created[0]['id']}")
        async with socket(live_server, token=admin_token) as ws:
            await subscribe(ws, since=seen[-1]["sequence"])
            caught_up = await changes(ws, 4)
            live = await dojo.post("/v1/orders", json=make_order())
            (after,) = await changes(ws, 1)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(receive(ws), 0.5)
    sequences = [c["sequence"] for c in [*seen, *caught_up, after]]
    assert sequences == list(range(1, 7))
    assert [c["order"]["id"] for c in caught_up] == [o["id"] for o in created] + [created[0]["id"]]
    assert [c["kind"] for c in caught_up] == ["CREATED", "CREATED", "CREATED", "CANCELED"]
    assert after["order"]["id"] == live.json()["id"]
