"""A venue group on one PostgreSQL: several real server processes behave as one service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from server.actors import Actor
from server.broker.postgres import APPLICATION, PostgresBroker, dsn
from server.dojo.contract import CreateOrderRequest
from server.orders.model import Order
from server.orders.placing import Placement, place_batch
from server.orders.service import new_order_id
from server.payments import rows as payment_rows
from server.settings import Settings
from server.staff.roles import Role
from server.stations import prep
from server.store import create_store
from tests.conftest import NO_POSTGRES, POSTGRES_URL, mint
from tests.factories import make_order, money, payment_event
from tests.processes import DOJO_AUTH, ServerProcess, environment, run

pytestmark = pytest.mark.skipif(POSTGRES_URL is None, reason=NO_POSTGRES)
SUBSCRIBE = "subscription($since: Int) { orderChanges(since: $since) { sequence kind order { id status } } }"
MOVE = "mutation($id: ID!, $to: OrderStatus!, $expected: OrderStatus) { moveOrder(id: $id, to: $to, expected: $expected) { __typename } }"


@pytest.fixture
def postgres_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("runs on PostgreSQL only")
    return database_url


@pytest.fixture
async def token(postgres_url: str) -> str:
    return await mint(Settings(database_url=postgres_url), Role.ADMIN, "group-office")


@pytest.fixture
def servers(postgres_url: str) -> Iterator[list[ServerProcess]]:
    """Two servers on different ports over one database."""
    with ExitStack() as stack:
        yield [stack.enter_context(member(postgres_url)) for _ in range(2)]


@pytest.fixture
def server(postgres_url: str) -> Iterator[ServerProcess]:
    """One server on the database, for a test that plays the other itself."""
    with member(postgres_url) as one:
        yield one


@contextmanager
def member(postgres_url: str) -> Iterator[ServerProcess]:
    """A server of the group: this database, and its LISTEN/NOTIFY as the broker."""
    server = ServerProcess(environment(postgres_url, ORDERPASS_BROKER_URL=postgres_url), args=())
    server.start()
    try:
        yield server
    finally:
        stop_if_running(server)


def stop_if_running(server: ServerProcess) -> None:
    if server.process is not None and server.process.returncode is None:
        server.stop()


@asynccontextmanager
async def subscriber(url: str, token: str, since: int = 0) -> AsyncIterator[ClientConnection]:
    ws_url = url.replace("http://", "ws://") + "/graphql"
    async with connect(ws_url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        await ws.send(
            orjson.dumps(
                {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
            ).decode()
        )
        assert orjson.loads(await ws.recv())["type"] == "connection_ack"
        payload = {"query": SUBSCRIBE, "variables": {"since": since}}
        await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": payload}).decode())
        yield ws


async def changes(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while len(found) < count:
        message = orjson.loads(await asyncio.wait_for(ws.recv(), 15))
        if message["type"] == "next":
            found.append(message["payload"]["data"]["orderChanges"])
    return found


async def quiet(ws: ClientConnection) -> None:
    """Nothing more arrives (no duplicate turns up late)."""
    try:
        while True:
            message = orjson.loads(await asyncio.wait_for(ws.recv(), 1.5))
            assert message["type"] == "ping", message
    except TimeoutError:
        return


async def listeners(database_url: str) -> set[int]:
    connection = await asyncpg.connect(dsn(database_url))
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
            APPLICATION,
        )
        return {row["pid"] for row in rows}
    finally:
        await connection.close()


async def test_changes_made_on_one_server_reach_a_subscriber_on_the_other_once_even_across_a_dropped_listen(
    servers: list[ServerProcess], token: str, postgres_url: str
):
    here, there = servers
    async with (
        subscriber(here.url, token) as ws,
        httpx.AsyncClient(base_url=there.url, auth=DOJO_AUTH) as dojo,
    ):
        first = [(await dojo.post("/v1/orders", json=make_order())).json()["id"] for _ in range(3)]
        before = await changes(ws, 3)

        dropped = await listeners(postgres_url)
        assert len(dropped) == 2  # one LISTEN connection per server process
        connection = await asyncpg.connect(dsn(postgres_url))
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = $1 AND datname = current_database()",
            APPLICATION,
        )
        await connection.close()
        for _ in range(100):  # both processes listen again, on new connections
            now = await listeners(postgres_url)
            if len(now) == 2 and not now & dropped:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the LISTEN connections did not come back")

        later = [(await dojo.post("/v1/orders", json=make_order())).json()["id"] for _ in range(3)]
        await dojo.delete(f"/v1/orders/{later[0]}")
        after = await changes(ws, 4)
        await quiet(ws)
    seen = before + after
    assert [c["sequence"] for c in seen] == list(range(1, 8))
    assert [c["order"]["id"] for c in seen] == [*first, *later, later[0]]


async def test_concurrent_writers_on_two_servers_never_publish_a_number_below_one_already_seen(
    servers: list[ServerProcess], token: str
):
    """Two transactions may take numbers 10 and 11 and commit 11 first; a screen that saw 11 would
    then miss 10 forever. The numbers must reach every subscriber in order, with no gap."""
    async with subscriber(servers[0].url, token) as ws:
        async with httpx.AsyncClient(auth=DOJO_AUTH, timeout=30) as dojo:
            writes = [dojo.post(f"{servers[n % 2].url}/v1/orders", json=make_order()) for n in range(60)]
            assert {r.status_code for r in await asyncio.gather(*writes)} == {200}
        seen = await changes(ws, 60)
        await quiet(ws)
    assert [c["sequence"] for c in seen] == list(range(1, 61))


async def test_dojo_retries_through_different_servers_create_one_order(servers: list[ServerProcess]):
    body = make_order()
    async with httpx.AsyncClient(auth=DOJO_AUTH, timeout=30) as dojo:
        answers = await asyncio.gather(
            *(dojo.post(f"{servers[n % 2].url}/v1/orders", json=body) for n in range(20))
        )
        assert {a.status_code for a in answers} == {200}
        assert len({a.json()["id"] for a in answers}) == 1
        found = await dojo.post(f"{servers[0].url}/v1/orders/search", json={})
    assert len(found.json()["data"]) == 1


async def test_a_retry_that_arrives_while_another_server_places_its_order_gets_that_order(
    server: ServerProcess, postgres_url: str
):
    """Seen once in CI: one of twenty concurrent retries of one order through two servers got a
    409, its payment intent "already belongs to order ...", the very order it was retrying: its
    batch had looked for Dojo's id before the other server committed, and for the payment's
    owner after (each PostgreSQL statement sees what was committed before it began). A batch
    now holds its orders' payment intents before it reads anything. Here the other server is
    this test: it holds the intent, lets the server's batch arrive and wait, places the same
    order and commits; the server's request must get that order."""
    body = make_order()
    store = create_store(Settings(database_url=postgres_url))
    try:
        async with httpx.AsyncClient(auth=DOJO_AUTH, timeout=30) as dojo:
            async with store.write() as tx:
                draft = CreateOrderRequest.model_validate_json(orjson.dumps(body))
                await payment_rows.hold(tx, [payment.payment_intent_id for payment in draft.payments])
                request = asyncio.create_task(dojo.post(f"{server.url}/v1/orders", json=body))
                await waiting_for_a_lock(postgres_url)
                (placed,), _ = await place_batch(
                    tx,
                    [Placement(draft, Actor.dojo({}), None)],
                    now=datetime.now(UTC),
                    new_id=new_order_id,
                    auto_confirm=False,
                    dojo_due=None,
                )
            answer = await request
    finally:
        await store.close()
    assert isinstance(placed, Order)
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == placed.id


async def waiting_for_a_lock(database_url: str) -> None:
    """Until a statement on this database waits for a lock (the server's batch, for the intent)."""
    connection = await asyncpg.connect(dsn(database_url))
    try:
        for _ in range(200):
            waiting = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if waiting:
                return
            await asyncio.sleep(0.05)
        pytest.fail("the server's batch never waited for the payment intent")
    finally:
        await connection.close()


async def test_dojo_retries_of_a_payment_or_a_cancel_through_different_servers_all_succeed(
    servers: list[ServerProcess],
):
    """A write on one order locks its row first, so a retry through the other server waits for
    the first and finds it done: before, the losers of the race got a 500 (the payment's key
    taken under them) or a 409 ("changed by someone else meanwhile") for what had succeeded."""
    async with httpx.AsyncClient(auth=DOJO_AUTH, timeout=30) as dojo:

        async def twenty(method: str, path: str, body: dict[str, Any] | None = None) -> set[int]:
            calls = [dojo.request(method, f"{servers[n % 2].url}/v1{path}", json=body) for n in range(20)]
            return {answer.status_code for answer in await asyncio.gather(*calls)}

        order_id = (await dojo.post(f"{servers[0].url}/v1/orders", json=make_order(payments=[]))).json()["id"]
        paid = {"paymentIntentId": "pi_retried", "paidAmount": money(3130)}
        assert await twenty("POST", f"/orders/{order_id}/record-payment", paid) == {200}
        other_id = (await dojo.post(f"{servers[0].url}/v1/orders", json=make_order(payments=[]))).json()["id"]
        assert await twenty("DELETE", f"/orders/{other_id}") == {200}
        order = (await dojo.get(f"{servers[1].url}/v1/orders/{order_id}")).json()
        other = (await dojo.get(f"{servers[1].url}/v1/orders/{other_id}")).json()
    assert [p["paymentIntentId"] for p in order["payments"]] == ["pi_retried"]
    assert order["paidAmount"]["value"] == 3130
    assert other["status"] == "Canceled"


async def test_guests_splitting_a_bill_through_different_servers_at_once_all_count(
    servers: list[ServerProcess],
):
    async with httpx.AsyncClient(auth=DOJO_AUTH, timeout=30) as dojo:
        order_id = (await dojo.post(f"{servers[0].url}/v1/orders", json=make_order(payments=[]))).json()["id"]
        shares = [
            dojo.post(
                f"{servers[n % 2].url}/v1/orders/{order_id}/record-payment",
                json={"paymentIntentId": f"pi_share_{n}", "paidAmount": money(500)},
            )
            for n in range(6)
        ]
        assert {answer.status_code for answer in await asyncio.gather(*shares)} == {200}
        order = (await dojo.get(f"{servers[1].url}/v1/orders/{order_id}")).json()
    assert sorted(p["paymentIntentId"] for p in order["payments"]) == [f"pi_share_{n}" for n in range(6)]
    assert order["paidAmount"]["value"] == 3000


async def test_one_payment_recorded_against_several_orders_at_once_goes_to_one(
    servers: list[ServerProcess],
):
    """The others are told it belongs elsewhere (409), never a 500 for the key taken under them."""
    async with httpx.AsyncClient(auth=DOJO_AUTH, timeout=30) as dojo:
        orders = [
            (await dojo.post(f"{servers[0].url}/v1/orders", json=make_order(payments=[]))).json()["id"]
            for _ in range(8)
        ]
        paid = {"paymentIntentId": "pi_contested", "paidAmount": money(1000)}
        answers = await asyncio.gather(
            *(
                dojo.post(f"{servers[n % 2].url}/v1/orders/{order_id}/record-payment", json=paid)
                for n, order_id in enumerate(orders)
            )
        )
    assert sorted(answer.status_code for answer in answers) == [200] + [409] * 7
    assert all("pi_contested" in a.json()["debugMessage"] for a in answers if a.status_code == 409)


async def test_a_payment_event_arriving_with_the_payment_is_never_lost(servers: list[ServerProcess]):
    """Dojo's event for a payment intent and the payment itself (recorded, or in a new order)
    arrive through different calls, each reading what the other writes. On PostgreSQL, at once,
    each missed the other: the Canceled event was kept as unmatched, the payment recorded
    without it, and the order counted as paid (8 rounds in 30, before each payment intent was
    held by whichever came first)."""
    here, there = servers
    async with httpx.AsyncClient(auth=DOJO_AUTH, timeout=30) as dojo:
        for n in range(12):
            intent = f"pi_together_{n}"
            canceled = payment_event(intent, "Canceled", at=datetime.now(UTC))
            if n % 2:
                new = make_order(payments=[{"paymentIntentId": intent, "paidAmount": money(3130)}])
                paying = dojo.post(f"{here.url}/v1/orders", json=new)
            else:
                empty = (await dojo.post(f"{here.url}/v1/orders", json=make_order(payments=[]))).json()
                paid = {"paymentIntentId": intent, "paidAmount": money(3130)}
                paying = dojo.post(f"{here.url}/v1/orders/{empty['id']}/record-payment", json=paid)
            order, told = await asyncio.gather(paying, dojo.post(f"{there.url}/v1/events", json=canceled))
            assert (order.status_code, told.status_code) == (200, 200), (order.text, told.text)
            now = (await dojo.get(f"{there.url}/v1/orders/{order.json()['id']}")).json()
            assert (now["paidAmount"]["value"], now["payments"]) == (0, []), n


async def test_two_staff_moving_one_order_through_different_servers_one_wins(
    servers: list[ServerProcess], token: str
):
    async with httpx.AsyncClient(auth=DOJO_AUTH) as dojo:
        order_id = (await dojo.post(f"{servers[0].url}/v1/orders", json=make_order())).json()["id"]
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(headers=headers) as staff:
        variables = {"id": order_id, "to": "ACCEPTED", "expected": "NEW"}
        moves = [
            staff.post(f"{s.url}/graphql", json={"query": MOVE, "variables": variables}) for s in servers * 3
        ]
        results = [r.json()["data"]["moveOrder"]["__typename"] for r in await asyncio.gather(*moves)]
    assert sorted(results) == ["Conflict"] * 5 + ["Order"]


async def test_several_workers_behind_one_port_serve_every_subscriber(postgres_url: str, token: str):
    server = ServerProcess(
        environment(postgres_url, ORDERPASS_BROKER_URL=postgres_url), args=("--workers", "2")
    )
    server.start()
    try:
        await every_subscriber_sees_every_order(server.url, token)
    finally:
        server.stop()


async def every_subscriber_sees_every_order(url: str, token: str) -> None:
    """Four screens on one port, on whichever workers took them, each see eight orders in order."""
    async with (
        subscriber(url, token) as a,
        subscriber(url, token) as b,
        subscriber(url, token) as c,
        subscriber(url, token) as d,
        httpx.AsyncClient(base_url=url, auth=DOJO_AUTH) as dojo,
    ):
        ids = [(await dojo.post("/v1/orders", json=make_order())).json()["id"] for _ in range(8)]
        for ws in (a, b, c, d):
            assert [x["order"]["id"] for x in await changes(ws, 8)] == ids


def test_several_workers_on_the_memory_broker_are_refused(postgres_url: str):
    env = environment(postgres_url, ORDERPASS_BROKER_URL="memory://")
    server = ServerProcess(env, args=("--workers", "2"))
    with pytest.raises(AssertionError, match="ORDERPASS_BROKER_URL"):
        server.start()


async def test_a_change_number_waits_for_the_transaction_holding_an_earlier_one(postgres_url: str, store):
    """The mechanism behind the test above, made deterministic: while one transaction holds number
    N uncommitted, another cannot take N+1; it gets it only once N is committed."""
    from datetime import UTC, datetime

    from server.changes.model import ChangeKind
    from server.changes.rows import append_change
    from server.lifecycle import OrderStatus

    now = datetime.now(UTC)
    async with store.write() as first:
        earlier = await append_change(
            first, "ord_a", ChangeKind.CREATED, from_status=None, to_status=OrderStatus.NEW, now=now
        )

        async def second() -> int:
            async with store.write() as tx:
                return await append_change(
                    tx, "ord_b", ChangeKind.CREATED, from_status=None, to_status=OrderStatus.NEW, now=now
                )

        later = asyncio.create_task(second())
        await asyncio.sleep(0.5)
        assert not later.done(), "a second writer took a number while an earlier one was uncommitted"
    assert await later == earlier + 1


STATIONS = "{ stations { id } }"
SAVE_STATION = 'mutation { saveStation(input: {id: "grill", name: "Grill", position: 1}) { __typename } }'


async def test_a_station_change_reaches_the_other_servers_copy_through_the_broker(
    servers: list[ServerProcess], token: str, postgres_url: str, tmp_path
):
    """Each server keeps the stations in memory (server/copies.py), trusting its copy for 2 s: a
    change through one server's GraphQL reaches the other's well before that, on PostgreSQL's
    NOTIFY, and so does `venue load` from a shell."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(headers=headers, timeout=30) as staff:

        async def listed(server: ServerProcess) -> list[str]:
            answer = await staff.post(f"{server.url}/graphql", json={"query": STATIONS})
            return sorted(station["id"] for station in answer.json()["data"]["stations"])

        async def soon(server: ServerProcess, expected: list[str]) -> None:
            deadline = asyncio.get_running_loop().time() + 1.5  # the copy's own age would take 2 s
            while (found := await listed(server)) != expected:
                assert asyncio.get_running_loop().time() < deadline, found
                await asyncio.sleep(0.02)

        assert await listed(servers[1]) == ["kitchen"]  # its copy, read just now
        answer = await staff.post(f"{servers[0].url}/graphql", json={"query": SAVE_STATION})
        assert answer.json()["data"]["saveStation"]["__typename"] == "Stations"
        await soon(servers[1], ["grill", "kitchen"])

    # `venue load` from a shell announces on the configured broker too (it used memory://, heard by
    # nobody, so servers saw a load only when their copies aged)
    broker = PostgresBroker(postgres_url)
    try:
        async with broker.subscribe(prep.CHANNEL) as heard:
            venue_file = tmp_path / "venue.toml"
            venue_file.write_text('[[station]]\nid = "pass"\nname = "Pass"\ndefault = true\n')
            env = environment(postgres_url, ORDERPASS_BROKER_URL=postgres_url)
            loaded = await asyncio.to_thread(run, "venue", "load", str(venue_file), env=env)
            assert loaded.returncode == 0, loaded.stderr
            assert await asyncio.wait_for(anext(heard), 15)
    finally:
        await broker.close()
