"""Who may reach GraphQL: no token, no data and no schema, however the request is spelled;
revoked and expired tokens lose their open sockets; sockets and bodies are bounded."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from graphql import execute, parse
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from schema import build_schema
from schema.access import guarded
from schema.context import Context
from server.broker import create_broker
from server.clock import SystemClock
from server.services import Services
from server.staff.roles import Role
from server.staff.tokens import Tokens
from server.store import create_store
from tests.conftest import LiveServer, as_staff, mint, place
from tests.test_graphql_http import receive, socket, subscribe, ws_url

PERSONAL = "{activeOrders{id customer{name emailAddress phoneNumber} history{actor{name}}}}"
INTROSPECTION = "{__schema{types{name fields{name}}}}"
QUERY_SPELLINGS = ["query", "%71uery", "q%75ery", "%71%75%65%72%79", "QUERY", "Query", "query%00", "query[]"]


def _leaks(response: httpx.Response) -> bool:
    """Whether an answer carries anything of our data or schema."""
    text = response.text
    return any(word in text for word in ('"data"', "activeOrders", "__schema", "emailAddress", "OrderStatus"))


@pytest.fixture
async def with_an_order(live_server: LiveServer) -> LiveServer:
    await place(live_server, customer={"name": "Ada", "emailAddress": "ada@example.com"})
    return live_server


# -- HTTP: no token, no data ----------------------------------------------------------------


@pytest.mark.parametrize("spelling", QUERY_SPELLINGS)
@pytest.mark.parametrize("accept", ["text/html", "*/*", "application/json", "text/html, application/json"])
async def test_a_get_without_a_token_runs_nothing_however_query_is_spelled(with_an_order, spelling, accept):
    for document in (PERSONAL, INTROSPECTION):
        url = f"{with_an_order.url}/graphql?{spelling}={httpx.QueryParams({'q': document})['q']}"
        async with httpx.AsyncClient() as client:
            response = await client.get(url, headers={"Accept": accept})
        assert response.status_code in (303, 401), response.text
        assert not _leaks(response)
        if response.status_code == 303:
            assert response.headers["location"] == "/graphiql"


@pytest.mark.parametrize(
    "body",
    [
        {"json": {"query": PERSONAL}},
        {"json": {"query": INTROSPECTION}},
        {"json": [{"query": PERSONAL}]},
        {"data": {"query": PERSONAL}},  # a form body
        {"files": {"operations": (None, orjson.dumps({"query": PERSONAL})), "map": (None, b"{}")}},
        {"content": PERSONAL, "headers": {"Content-Type": "application/graphql"}},
    ],
)
@pytest.mark.parametrize("accept", ["text/html", "application/json", "multipart/mixed"])
async def test_a_post_without_a_token_runs_nothing(with_an_order, body, accept):
    headers = {"Accept": accept, **body.pop("headers", {})}
    async with httpx.AsyncClient(base_url=with_an_order.url) as client:
        response = await client.post("/graphql?query=" + PERSONAL, headers=headers, **body)
    assert response.status_code == 401
    assert not _leaks(response)
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Bearer opt_",
        "Bearer opt_" + "x" * 43,
        "bearer  opt_nope",
        "Token opt_x",
        "opt_x",
    ],
)
async def test_a_malformed_or_unknown_token_is_refused(with_an_order, authorization):
    async with httpx.AsyncClient(base_url=with_an_order.url) as client:
        response = await client.post(
            "/graphql", json={"query": INTROSPECTION}, headers={"Authorization": authorization}
        )
    assert response.status_code == 401
    assert not _leaks(response)


async def test_an_expired_token_is_refused(live_server: LiveServer):
    store = create_store(live_server.settings)
    tokens = Tokens(store=store, clock=SystemClock())
    expires_at = datetime.now(UTC) + timedelta(seconds=3)  # room for a loaded machine's first request
    token = await tokens.create(name="brief", role=Role.ADMIN, expires_at=expires_at)
    await store.close()
    query = {"query": "{ lastSequence }"}
    async with httpx.AsyncClient(
        base_url=live_server.url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        assert (await client.post("/graphql", json=query)).status_code == 200
        await asyncio.sleep((expires_at - datetime.now(UTC)).total_seconds() + 0.2)
        assert (await client.post("/graphql", json=query)).status_code == 401


async def test_a_body_over_the_limit_is_refused_with_413_even_with_a_token(serve):
    server: LiveServer = serve(max_body_bytes=10_000)
    token = await mint(server.settings, Role.ADMIN)
    padding = " " * 20_000
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as client:
        declared = await client.post("/graphql", content=f'{{"query": "{{ lastSequence }}{padding}"}}')

        async def chunks() -> AsyncIterator[
            bytes
        ]:  # no Content-Length: the limit holds as the body streams in
            yield b'{"query": "{ lastSequence }'
            for _ in range(20):
                yield b" " * 1000
            yield b'"}'

        streamed = await client.post(
            "/graphql", content=chunks(), headers={"Content-Type": "application/json"}
        )
        small = await client.post("/graphql", json={"query": "{ lastSequence }"})
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["errors"][0]["extensions"]["code"] == "TOO_LARGE"
    assert small.json() == {"data": {"lastSequence": 0}}


# -- the schema itself refuses an operation without an actor ----------------------------------


def test_every_root_field_is_guarded():
    schema = build_schema()
    roots: list[Any] = [schema.query, schema.mutation, schema.subscription]
    fields = [field for root in roots for field in root.__strawberry_definition__.fields]
    assert len(fields) >= 20
    assert [field.name for field in fields if not guarded(field)] == []


@pytest.fixture
def nobody(services: Services) -> Context:
    return as_staff(services, None)


@pytest.mark.parametrize(
    "document",
    [PERSONAL, INTROSPECTION, "{ __typename }", 'mutation { cancelOrder(id: "x") { __typename } }'],
)
async def test_the_schema_runs_nothing_for_nobody(nobody: Context, document: str):
    result = await build_schema().execute(document, context_value=nobody)
    assert result.data is None
    assert [error.extensions for error in result.errors or []] == [{"code": "UNAUTHORIZED"}]


async def test_a_root_field_refuses_nobody_even_past_the_schemas_own_check(nobody: Context):
    """The second line of defence: each root field's guard, run here by graphql-core directly,
    without the extension that refuses the operation first."""
    schema = build_schema()
    for document in ("{ lastSequence }", "{ activeOrders { id } }", "{ stations { id } }"):
        result = await execute(schema._schema, parse(document), context_value=nobody)  # type: ignore[misc]
        assert result.data is None
        assert [(error.extensions or {}).get("code") for error in result.errors or []] == ["UNAUTHORIZED"]


# -- WebSockets -------------------------------------------------------------------------------


async def closed_code(ws: Any) -> int | None:
    """The close code the server sends, reading (and dropping) whatever comes first."""
    try:
        async with asyncio.timeout(10):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


async def test_revoking_a_token_closes_its_open_sockets_within_seconds(serve):
    server: LiveServer = serve(token_recheck_seconds=0.5)
    token = await mint(server.settings, Role.KITCHEN, "grill-screen")
    other = await mint(server.settings, Role.KITCHEN, "pass-screen")
    async with socket(server, token=token) as revoked, socket(server, token=other) as kept:
        await subscribe(revoked, since=0)
        await subscribe(kept, since=0)
        store = create_store(server.settings)  # as `orderpass token revoke` does, from another process
        await Tokens(store=store, clock=SystemClock()).revoke("grill-screen")
        await store.close()
        started = asyncio.get_running_loop().time()
        assert await closed_code(revoked) == 4401
        assert asyncio.get_running_loop().time() - started < 3
        await kept.send(orjson.dumps({"type": "ping"}).decode())
        assert (await receive(kept))["type"] == "pong"


async def test_an_expiring_token_closes_its_socket(serve):
    server: LiveServer = serve(token_recheck_seconds=0.3)
    store = create_store(server.settings)
    token = await Tokens(store=store, clock=SystemClock()).create(
        name="temp", role=Role.VIEWER, expires_at=datetime.now(UTC) + timedelta(seconds=1)
    )
    await store.close()
    async with socket(server, token=token) as ws:
        await subscribe(ws, since=0)
        assert await closed_code(ws) == 4401


async def test_every_operation_on_a_socket_rechecks_its_token(serve):
    server: LiveServer = serve(token_recheck_seconds=3600)  # no sweep: only the per-operation check
    token = await mint(server.settings, Role.ADMIN, "office")
    async with socket(server, token=token) as ws:
        assert (await receive(ws))["type"] == "connection_ack"
        store = create_store(server.settings)
        await Tokens(store=store, clock=SystemClock()).revoke("office")
        await store.close()
        subscribe_ = {"id": "1", "type": "subscribe", "payload": {"query": "{ lastSequence }"}}
        await ws.send(orjson.dumps(subscribe_).decode())
        assert await closed_code(ws) == 4401


@pytest.mark.parametrize(
    "frame",
    ["[1]", "null", '"x"', "1", "{}", '{"type": 1}', '{"type": "subscribe", "id": "1"}',
     '{"type": "subscribe", "id": "1", "payload": []}', '{"type": "subscribe", "id": 7, "payload": {"query": "{a}"}}',
     '{"type": "subscribe", "id": "1", "payload": {"query": "{ lastSequence }", "variables": [1]}}'],
)  # fmt: skip
async def test_a_malformed_frame_closes_the_socket_with_4400_and_no_traceback(
    live_server: LiveServer, frame: str, caplog: pytest.LogCaptureFixture
):
    token = await mint(live_server.settings, Role.VIEWER)
    for authenticated in (False, True):
        async with connect(ws_url(live_server), subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
            if authenticated:
                init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
                await ws.send(orjson.dumps(init).decode())
                assert (await receive(ws))["type"] == "connection_ack"
            await ws.send(frame)
            assert await closed_code(ws) == 4400
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []


async def test_frames_are_bounded_and_tighter_before_authentication(serve):
    server: LiveServer = serve(max_body_bytes=100_000)
    token = await mint(server.settings, Role.VIEWER)
    async with connect(ws_url(server), subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        await ws.send(orjson.dumps({"type": "connection_init", "payload": {"x": "y" * 20_000}}).decode())
        assert await closed_code(ws) == 1009
    async with socket(server, token=token) as ws:
        assert (await receive(ws))["type"] == "connection_ack"
        for op, padding in (("1", 50_000), ("2", 150_000)):
            query = "{ lastSequence }" + " " * padding
            await ws.send(orjson.dumps({"id": op, "type": "subscribe", "payload": {"query": query}}).decode())
            if op == "1":
                assert (await receive(ws))["payload"] == {"data": {"lastSequence": 0}}
        assert await closed_code(ws) == 1009


async def test_one_socket_runs_a_bounded_number_of_operations(serve):
    server: LiveServer = serve(ws_max_operations=2)
    token = await mint(server.settings, Role.VIEWER)
    async with socket(server, token=token) as ws:
        await subscribe(ws, since=0, op="1")
        for op in ("2", "3"):
            message = {
                "id": op,
                "type": "subscribe",
                "payload": {"query": "subscription { orderChanges { sequence } }"},
            }
            await ws.send(orjson.dumps(message).decode())
        refused = await receive(ws)
    assert refused["type"] == "error"
    assert refused["id"] == "3"


async def test_a_refused_socket_is_logged_without_its_token(live_server: LiveServer, caplog):
    with caplog.at_level(logging.WARNING, logger="orderpass.graphql"):
        async with socket(live_server, token="opt_" + "n" * 43) as ws:
            assert await closed_code(ws) == 4401
    refusals = [r for r in caplog.records if "refused a GraphQL WebSocket" in r.getMessage()]
    assert len(refusals) == 1
    assert "opt_nnnn" not in caplog.text


async def test_a_revocation_on_the_shared_broker_closes_sockets_at_once(serve, database_url: str, tmp_path):
    """PostgreSQL's LISTEN/NOTIFY, or on SQLite the sockets of one machine (server/broker/unix.py)."""
    shared = database_url if database_url.startswith("postgresql") else f"unix://{tmp_path}/bus"
    server: LiveServer = serve(broker_url=shared, token_recheck_seconds=3600)  # no sweep
    token = await mint(server.settings, Role.KITCHEN, "grill-screen")
    async with socket(server, token=token) as ws:
        await subscribe(ws, since=0)
        store, broker = create_store(server.settings), create_broker(shared)
        await Tokens(store=store, clock=SystemClock(), broker=broker).revoke("grill-screen")
        await broker.close()
        await store.close()
        started = asyncio.get_running_loop().time()
        assert await closed_code(ws) == 4401
        assert asyncio.get_running_loop().time() - started < 3


@pytest.mark.parametrize(
    "accept", ["application/json", 'multipart/mixed;subscriptionSpec="1.0", application/json']
)
async def test_a_subscription_over_plain_http_is_a_clear_error(live_server: LiveServer, accept: str):
    token = await mint(live_server.settings, Role.VIEWER)
    headers = {"Authorization": f"Bearer {token}", "Accept": accept}
    async with httpx.AsyncClient(base_url=live_server.url, timeout=5) as client:
        response = await client.post(
            "/graphql", json={"query": "subscription { orderChanges { sequence } }"}, headers=headers
        )
    assert "WebSocket" in response.text
    assert "INTERNAL" not in response.text


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [(None, True), ("same", True), ("http://evil.example", False), ("https://{host}", False),
     ("http://127.0.0.1:1", False), ("null", False)],
)  # fmt: skip
async def test_a_screen_cookie_opens_a_socket_only_from_our_own_pages(
    live_server: LiveServer, origin, accepted
):
    token = await mint(live_server.settings, Role.KITCHEN)
    host = live_server.url.removeprefix("http://")
    headers = {"Cookie": f"orderpass_kds={token}"}
    if origin is not None:
        headers["Origin"] = live_server.url if origin == "same" else origin.format(host=host)
    try:
        async with connect(
            ws_url(live_server),
            subprotocols=[Subprotocol("graphql-transport-ws")],
            additional_headers=headers,
        ) as ws:
            await ws.send(orjson.dumps({"type": "connection_init", "payload": {}}).decode())
            answer = "ack" if (await receive(ws))["type"] == "connection_ack" else "other"
    except InvalidStatus as refused:  # strawberry refuses a foreign Origin at the handshake
        answer = str(refused.response.status_code)
    except ConnectionClosed as closed:  # we refuse the cookie of a foreign Origin at connection_init
        answer = str(closed.rcvd.code if closed.rcvd else None)
    assert answer == "ack" if accepted else answer in {"403", "4401"}
