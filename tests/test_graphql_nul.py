"""A NUL (U+0000) is refused in any GraphQL text however it is spelled: GraphQL's `\\u{0}` and
`\\u0000` escapes, a raw NUL in a block string, a variable; over HTTP and over a WebSocket.
PostgreSQL cannot store it, so nothing with one may reach a service."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from server.staff.roles import Role
from server.text import NUL_REFUSED
from tests.conftest import LiveServer, dojo_client, mint, place

CANCEL = "mutation($id: ID!, $reason: String) { cancelOrder(id: $id, reason: $reason) { __typename } }"
# Each spells a NUL in the reason a staff member gives to cancel an order.
SPELLINGS = {
    "escape with braces": (
        'mutation($id: ID!) { cancelOrder(id: $id, reason: "no\\u{0}pe") { __typename } }',
        {},
    ),
    "escape with braces, padded": (
        'mutation($id: ID!) { cancelOrder(id: $id, reason: "\\u{000000}") { __typename } }',
        {},
    ),
    "four-digit escape": (
        'mutation($id: ID!) { cancelOrder(id: $id, reason: "no\\u0000pe") { __typename } }',
        {},
    ),
    "raw, in a block string": (
        'mutation($id: ID!) { cancelOrder(id: $id, reason: """no\x00pe""") { __typename } }',
        {},
    ),
    "in a variable": (CANCEL, {"reason": "no\x00pe"}),
}
# Text no input type checks: an id, a search, a filter.
ELSEWHERE = [
    '{ order(id: "ord_\\u{0}") { id } }',
    '{ orders(filter: {text: "\\u{0}"}) { totalCount } }',
    '{ orders(filter: {tableId: "5\\u{0}"}) { totalCount } }',
    'mutation { voidItems(orderId: "ord_x", lines: [1], reason: "\\u{0}") { __typename } }',
]


def refused_with_nul(body: dict[str, Any]) -> bool:
    return any(
        error.get("message") == NUL_REFUSED and (error.get("extensions") or {}).get("code") == "INVALID_INPUT"
        for error in body.get("errors") or []
    )


@pytest.fixture
async def setup(live_server: LiveServer) -> tuple[str, str]:
    return await mint(live_server.settings, Role.ADMIN), await place(live_server)


async def still_new(server: LiveServer, order_id: str) -> bool:
    async with dojo_client(server) as dojo:
        order = (await dojo.get(f"/v1/orders/{order_id}")).json()
    return bool(order["status"] == "New")


@pytest.mark.parametrize(("document", "variables"), SPELLINGS.values(), ids=SPELLINGS.keys())
async def test_a_nul_is_refused_over_http_however_it_is_spelled(live_server, setup, document, variables):
    token, order_id = setup
    body = {"query": document, "variables": {"id": order_id, **variables}}
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        response = await client.post("/graphql", json=body, headers={"Authorization": f"Bearer {token}"})
    # The door may refuse the bytes before GraphQL reads them (a 400); past it, the schema does.
    assert response.status_code == 400 or refused_with_nul(response.json()), response.text
    assert "U+0000" in response.text
    assert await still_new(live_server, order_id)


@pytest.mark.parametrize("document", ELSEWHERE)
async def test_a_nul_is_refused_in_ids_searches_and_free_text_too(live_server, setup, document):
    token, _ = setup
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        response = await client.post(
            "/graphql", json={"query": document}, headers={"Authorization": f"Bearer {token}"}
        )
    assert refused_with_nul(response.json()), response.text
    assert response.json()["data"] is None


async def answer_over_a_socket(server: LiveServer, token: str, payload: dict[str, Any]) -> dict[str, Any]:
    url = server.url.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        await ws.send(
            orjson.dumps(
                {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
            ).decode()
        )
        assert orjson.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": payload}).decode())
        while True:
            message: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            if message["type"] == "error":  # refused before it ran: the payload is the errors
                return {"errors": message["payload"]}
            if message["type"] == "next":
                answer: dict[str, Any] = message["payload"]
                return answer


@pytest.mark.parametrize(("document", "variables"), SPELLINGS.values(), ids=SPELLINGS.keys())
async def test_a_nul_is_refused_over_a_websocket_however_it_is_spelled(
    live_server, setup, document, variables
):
    token, order_id = setup
    payload = {"query": document, "variables": {"id": order_id, **variables}}
    answer = await answer_over_a_socket(live_server, token, payload)
    assert refused_with_nul(answer), answer
    assert await still_new(live_server, order_id)


async def test_a_nul_in_a_subscriptions_variables_is_refused_over_a_websocket(live_server, setup):
    token, _ = setup
    document = "subscription($since: Int) { orderChanges(since: $since) { sequence } }"
    payload = {
        "query": document,
        "variables": {"since": 0, "screen": "grill\x00"},
    }  # any variable, used or not
    answer = await answer_over_a_socket(live_server, token, payload)
    assert refused_with_nul(answer), answer
