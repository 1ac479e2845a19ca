"""Dojo's WebSocket door: orderpass dials a fake Dojo on loopback (tests/fake_dojo_ws.py, written
from the AsyncAPI document), and Dojo calls it over that one socket."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from server.clock import SystemClock
from server.dojo.connection import LinkState, LinkStatus
from server.dojo.link import Link
from server.settings import Settings
from server.staff.roles import Role
from server.store import create_store
from server.text import NUL_REFUSED
from tests.conftest import LiveServer, lay, mint
from tests.factories import make_order, money
from tests.fake_dojo import FakeDojo
from tests.fake_dojo_ws import FakeDojoWs
from tests.processes import ServerProcess, clean_environment, run
from tests.test_rest import FLOOR
from tests.waiting import until


def socket_settings(fake: FakeDojoWs, api: FakeDojo, **more: Any) -> dict[str, Any]:
    return {
        "dojo_ws_url": fake.url,
        "dojo_api_key": fake.api_key,
        "dojo_software_house_id": fake.software_house_id,
        "dojo_api_url": api.url,  # the outbox and resolver call the HTTP fake, never the internet
        **more,
    }


@pytest.fixture
def dialled(fake_dojo_ws: FakeDojoWs, fake_dojo: FakeDojo, serve: Callable[..., LiveServer]) -> LiveServer:
    # The fakes first, so they outlive the server: it is stopped before them.
    return serve(**socket_settings(fake_dojo_ws, fake_dojo))


async def test_orderpass_dials_dojo_with_the_documented_handshake(fake_dojo_ws: FakeDojoWs, fake_dojo, serve):
    serve(**socket_settings(fake_dojo_ws, fake_dojo, dojo_reseller_id="reseller-9"))
    (handshake,) = await fake_dojo_ws.wait_for_handshakes(1)
    assert handshake.path == "/epos"
    assert handshake.headers["authorization"].startswith("Basic sk_")  # the key as-is, not base64
    assert handshake.headers["software-house-id"] == fake_dojo_ws.software_house_id
    assert handshake.headers["reseller-id"] == "reseller-9"


async def test_an_order_created_over_the_socket_is_read_back_over_it_and_over_rest(
    dialled: LiveServer, fake_dojo_ws: FakeDojoWs
):
    created = await fake_dojo_ws.call("CreateOrderV1", make_order())
    order = created["result"]
    assert order["status"] == "New"
    got = await fake_dojo_ws.call("GetOrderByIdV1", {"orderId": order["id"]})
    assert got["result"] == order
    async with httpx.AsyncClient(base_url=dialled.url, auth=("dojo", "test-secret")) as rest:
        assert (await rest.get(f"/v1/orders/{order['id']}")).json() == order


async def test_pay_at_table_browses_the_floor_over_the_socket_as_over_rest(
    dialled: LiveServer, fake_dojo_ws: FakeDojoWs
):
    await lay(dialled.settings, FLOOR)
    areas = await fake_dojo_ws.call("ListAreasV1", {})
    assert [area["id"] for area in areas["result"]] == ["downstairs", "terrace"]
    first = (await fake_dojo_ws.call("SearchTablesV1", {"waiterId": "becky", "cursor": {"limit": 1}}))[
        "result"
    ]
    rest = await fake_dojo_ws.call(
        "SearchTablesV1", {"waiterId": "becky", "cursor": {"after": first["after"]}}
    )
    assert [t["id"] for t in first["data"] + rest["result"]["data"]] == ["t1", "t2"]  # one paged object
    async with httpx.AsyncClient(base_url=dialled.url, auth=("dojo", "test-secret")) as http:
        over_rest = await http.post("/v1/tables/search", json={"waiterId": "becky", "cursor": {"limit": 1}})
    assert over_rest.json()["data"] == first["data"]


async def test_a_hundred_calls_in_flight_are_each_answered_by_their_id(dialled, fake_dojo_ws: FakeDojoWs):
    orders = [make_order() for _ in range(100)]
    exchanges = await fake_dojo_ws.calls_in_flight([("CreateOrderV1", order) for order in orders], timeout=30)
    assert len(exchanges) == 100
    for exchange in exchanges:  # each answer is its own request's: the same payment intent
        assert exchange.response["id"] == exchange.request["id"]
        [sent] = exchange.request["params"]["payments"]
        [placed] = exchange.response["result"]["payments"]
        assert placed["paymentIntentId"] == sent["paymentIntentId"]
    assert len({exchange.response["result"]["id"] for exchange in exchanges}) == 100


@pytest.mark.parametrize(
    ("frame", "error_type"),
    [
        ("not json", "InvalidRequest"),
        ("[1, 2]", "InvalidRequest"),
        ('{"jsonrpc": "2.0", "id": "x1", "method": "MakeCoffeeV1", "params": {}}', "NotFound"),
        ('{"jsonrpc": "2.0", "id": "x2", "method": "GetOrderByIdV1", "params": {}}', "InvalidRequest"),
        (
            '{"jsonrpc": "2.0", "id": "x3", "method": "CreateOrderV1", "params": {"items": 3}}',
            "InvalidRequest",
        ),
        (
            '{"jsonrpc": "2.0", "id": "x4", "method": "GetOrderByIdV1", "params": {"orderId": "ord_none"}}',
            "NotFound",
        ),
    ],
)
async def test_a_bad_frame_gets_an_error_answer_and_the_socket_stays_up(
    dialled, fake_dojo_ws: FakeDojoWs, frame: str, error_type: str
):
    await fake_dojo_ws.send_raw(frame)
    (answer,) = await fake_dojo_ws.wait_for_received(1)
    body = answer.json()
    assert body["error"]["errorType"] == error_type
    if '"id": "x' in frame:
        assert body["id"].startswith("x")
    fake_dojo_ws.take_violations()  # an answer to a frame that was not a request has no request to match
    still = await fake_dojo_ws.call("CreateOrderV1", make_order())
    assert still["result"]["status"] == "New"
    assert fake_dojo_ws.connections == 1


async def test_an_integer_past_64_bits_is_refused_as_rest_refuses_it(dialled, fake_dojo_ws: FakeDojoWs):
    # Read as a float, it would be refused as "not an integer": REST's parser keeps it exact.
    answer = await fake_dojo_ws.call("CreateOrderV1", make_order(totalAmount=money(2**70)))
    assert answer["error"]["debugMessage"] == (
        "totalAmount.value: Input should be less than or equal to 10000000000000"
    )


async def test_a_call_over_the_body_limit_is_answered_by_its_id_and_the_socket_stays_up(
    fake_dojo_ws: FakeDojoWs, fake_dojo, serve
):
    serve(**socket_settings(fake_dojo_ws, fake_dojo, max_body_bytes=4096))
    too_big = await fake_dojo_ws.call("CreateOrderV1", make_order(note="x" * 4096), id="big-1")
    assert too_big["id"] == "big-1"
    assert too_big["error"]["errorType"] == "InvalidRequest"
    assert "over the 4096-byte limit" in too_big["error"]["debugMessage"]
    assert (await fake_dojo_ws.call("CreateOrderV1", make_order()))["result"]["status"] == "New"
    assert fake_dojo_ws.connections == 1


async def test_a_nul_in_a_requestor_header_is_refused_on_either_store(dialled, fake_dojo_ws: FakeDojoWs):
    params = {**make_order(), "headers": {"waiterId": "becky\x00"}}
    answer = await fake_dojo_ws.call("CreateOrderV1", params)
    assert answer["error"]["debugMessage"] == NUL_REFUSED
    assert (await fake_dojo_ws.call("SearchOrdersV1", {}))["result"]["data"] == []


async def test_a_dropped_socket_is_back_within_a_second_and_serves_again(dialled, fake_dojo_ws: FakeDojoWs):
    await fake_dojo_ws.call("CreateOrderV1", make_order())
    await fake_dojo_ws.drop()
    started = asyncio.get_running_loop().time()
    await fake_dojo_ws.wait_for_connections(2, timeout=5)
    assert asyncio.get_running_loop().time() - started < 1.0
    assert (await fake_dojo_ws.call("CreateOrderV1", make_order()))["result"]["status"] == "New"


async def test_a_refused_key_is_logged_once_shown_as_refused_and_not_hammered(
    fake_dojo_ws: FakeDojoWs, fake_dojo, serve, caplog: pytest.LogCaptureFixture
):
    fake_dojo_ws.refuse_handshakes(401)
    with caplog.at_level(logging.INFO, logger="orderpass.dojo.socket"):
        server: LiveServer = serve(**socket_settings(fake_dojo_ws, fake_dojo))
        await fake_dojo_ws.wait_for_handshakes(1)
        token = await mint(server.settings, Role.VIEWER)
        query = {"query": "{ dojoConnection { state lastError } }"}
        async with httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}
        ) as staff:

            async def refused() -> bool:
                answer = (await staff.post("/graphql", json=query)).json()
                return bool(answer["data"]["dojoConnection"]["state"] == "REFUSED")

            await until(refused)
        await asyncio.sleep(1.5)
    assert len(fake_dojo_ws.handshakes) == 1  # backing off to the cap, not once a second
    refusals = [r for r in caplog.records if "refused our API key" in r.getMessage()]
    assert len(refusals) == 1
    assert fake_dojo_ws.api_key not in caplog.text


async def test_the_link_says_connected_with_the_calls_it_served(dialled, fake_dojo_ws: FakeDojoWs):
    for _ in range(3):
        await fake_dojo_ws.call("CreateOrderV1", make_order())
    token = await mint(dialled.settings, Role.VIEWER)
    query = {"query": "{ dojoConnection { state connectedSince callsServed } }"}
    async with httpx.AsyncClient(base_url=dialled.url, headers={"Authorization": f"Bearer {token}"}) as staff:

        async def counted() -> bool:
            link = (await staff.post("/graphql", json=query)).json()["data"]["dojoConnection"]
            return bool(link["state"] == "CONNECTED" and link["callsServed"] >= 3 and link["connectedSince"])

        await until(counted)
        page = (await staff.get("/metrics")).text
    assert 'orderpass_dojo_socket_calls_total{method="CreateOrderV1",outcome="ok"} 3.0' in page
    assert 'orderpass_dojo_socket_state{orderpass_dojo_socket_state="connected"} 1.0' in page
    assert LinkState.CONNECTED.value == "connected"


# -- one socket per venue, however many processes -----------------------------------------------


async def test_two_processes_hold_one_socket_and_the_other_takes_over_after_sigkill(
    fake_dojo_ws: FakeDojoWs, fake_dojo: FakeDojo, database_url: str
):
    env = socket_env(fake_dojo_ws, fake_dojo, database_url)
    assert run("db", "upgrade", env=env).returncode == 0
    first, second = ServerProcess(env, args=()), ServerProcess(env, args=())
    first.start()
    second.start()
    try:
        await fake_dojo_ws.wait_for_connections(1, timeout=10)
        await asyncio.sleep(3)  # both have had a chance to dial
        assert fake_dojo_ws.connections == 1
        holder = (await link_status(database_url)).holder
        assert holder is not None
        dying = first if f":{first.pid}:" in holder else second
        survivor = second if dying is first else first
        assert (await fake_dojo_ws.call("CreateOrderV1", make_order()))["result"]["status"] == "New"
        dying.stop(signal.SIGKILL)
        started = time.monotonic()
        await fake_dojo_ws.wait_for_connections(2, timeout=15)
        took = time.monotonic() - started
        assert took < 10, f"the standby took {took:.1f} s to take over"
        assert f":{survivor.pid}:" in ((await link_status(database_url)).holder or "")
        assert (await fake_dojo_ws.call("CreateOrderV1", make_order(), timeout=10))["result"][
            "status"
        ] == "New"
    finally:
        for server in (first, second):
            if server.process is not None and server.process.returncode is None:
                server.stop()


def socket_env(fake: FakeDojoWs, api: FakeDojo, database_url: str) -> dict[str, str]:
    clean = clean_environment()
    return clean | {
        "ORDERPASS_DATABASE_URL": database_url,
        "ORDERPASS_DOJO_USERNAME": "dojo",
        "ORDERPASS_DOJO_PASSWORD": "test-secret",
        "ORDERPASS_DOJO_WS_URL": fake.url,
        "ORDERPASS_DOJO_API_KEY": fake.api_key,
        "ORDERPASS_DOJO_SOFTWARE_HOUSE_ID": fake.software_house_id,
        "ORDERPASS_DOJO_API_URL": api.url,
    }


async def link_status(database_url: str) -> LinkStatus:
    store = create_store(Settings(database_url=database_url))
    try:
        return await Link(store=store, clock=SystemClock()).status()
    finally:
        await store.close()
