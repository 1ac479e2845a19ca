"""/readyz names each dependency and its state: 200 when all are ready, 503 with Retry-After
naming what is not, in fixed words (it is unauthenticated: no URL, address or driver text)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from server.broker.postgres import PostgresBroker
from tests.conftest import NO_POSTGRES, POSTGRES_URL, LiveServer
from tests.fake_dojo import FakeDojo
from tests.fake_dojo_ws import FakeDojoWs
from tests.processes import free_port
from tests.test_dojo_socket import socket_settings
from tests.waiting import until


async def readyz(server: LiveServer) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        return await client.get("/readyz")


def not_ready(response: httpx.Response, *leaks: str) -> dict[str, Any]:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    body: dict[str, Any] = response.json()
    assert body["status"] == "unavailable"
    assert "errorType" not in body  # ours, not Dojo's EPOSError
    assert [word for word in leaks if word in response.text] == []
    return body


async def test_a_server_whose_dependencies_answer_is_ready_and_says_which_it_asked(live_server: LiveServer):
    ready = await readyz(live_server)
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ready", "broker": "ready"}}


async def test_a_database_that_cannot_be_opened_is_named_and_the_rest_still_answer(serve, tmp_path):
    server = serve(database_url=f"sqlite:///{tmp_path}/missing-dir/orderpass.db")
    body = not_ready(await readyz(server), str(tmp_path), "sqlite", "missing-dir")
    assert body["checks"] == {"database": "unavailable", "broker": "ready"}
    assert "database" in body["message"]
    assert body["traceId"]


async def test_a_broker_that_cannot_be_reached_is_named_without_its_url(serve):
    port = free_port()  # nothing listens there
    server = serve(broker_url=f"postgresql://orderpass:broker-secret@127.0.0.1:{port}/orderpass")
    body = not_ready(await readyz(server), "broker-secret", str(port), "127.0.0.1", "postgresql")
    assert body["checks"] == {"database": "ready", "broker": "unavailable"}
    assert body["message"].startswith("the broker cannot be reached")


async def test_the_dojo_socket_where_configured_is_ready_once_connected(
    fake_dojo_ws: FakeDojoWs, fake_dojo: FakeDojo, serve: Callable[..., LiveServer]
):
    server = serve(**socket_settings(fake_dojo_ws, fake_dojo))

    async def connected() -> bool:
        return (await readyz(server)).status_code == 200

    await until(connected)
    assert (await readyz(server)).json()["checks"] == {
        "database": "ready",
        "broker": "ready",
        "dojoSocket": "ready",
    }


async def test_a_dojo_socket_whose_handshake_is_refused_is_named_with_its_state(
    fake_dojo_ws: FakeDojoWs, fake_dojo: FakeDojo, serve: Callable[..., LiveServer]
):
    fake_dojo_ws.refuse_handshakes(status=401)
    server = serve(**socket_settings(fake_dojo_ws, fake_dojo))
    await fake_dojo_ws.wait_for_handshakes(1)

    async def refused() -> bool:
        checks: dict[str, str] = (await readyz(server)).json()["checks"]
        return checks.get("dojoSocket") == "refused"

    await until(refused)
    body = not_ready(await readyz(server), fake_dojo_ws.api_key, fake_dojo_ws.url)
    assert body["message"] == "Dojo's WebSocket is refused, not connected"


@pytest.mark.skipif(POSTGRES_URL is None, reason=NO_POSTGRES)
async def test_a_postgres_broker_is_ready_while_it_reaches_postgres_listening_or_not():
    assert POSTGRES_URL is not None
    broker = PostgresBroker(POSTGRES_URL)
    try:
        assert await broker.ready()
        async with broker.subscribe("readiness"):
            assert await broker.ready()
    finally:
        await broker.close()


async def test_a_postgres_broker_nobody_answers_for_is_not_ready():
    broker = PostgresBroker(f"postgresql://orderpass@127.0.0.1:{free_port()}/orderpass")
    try:
        assert not await broker.ready()
    finally:
        await broker.close()
