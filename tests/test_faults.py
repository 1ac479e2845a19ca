"""Faults, against the real `orderpass serve`: a server killed mid-stream of CreateOrders loses
nothing it answered and doubles nothing Dojo retries; PostgreSQL going away is a 503 with
Retry-After (never a 500, never a hang, never half an order), and service comes back by itself.

No assertion here is about time: deadlines (client timeouts) only turn a hang into a failure."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from server.store import async_url
from tests.conftest import NO_POSTGRES, POSTGRES_URL
from tests.factories import make_order
from tests.processes import DOJO_AUTH, ServerProcess, environment
from tests.tcp_proxy import TcpProxy

ORDERS, CLIENTS, KILL_AFTER = 200, 16, 80
DEADLINE = 30.0  # seconds any one request may take before the test calls it a hang
# What CreateOrder writes, table by table (no Dojo API key here, so nothing goes to the outbox).
WRITTEN = (
    "orders",
    "order_items",
    "order_discounts",
    "order_tax_lines",
    "payments",
    "order_history",
    "order_changes",
)


def dojo_at(url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, auth=DOJO_AUTH, timeout=DEADLINE)


# -- a crash under load -------------------------------------------------------------------------


@dataclass
class Heard:
    """What each CreateOrder heard, by dojoOrderId: its order, an error status, or nothing at all."""

    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    nothing: set[str] = field(default_factory=set)


async def create_all(url: str, bodies: list[dict[str, Any]], then: Callable[[Heard], None]) -> Heard:
    """Send every body, from CLIENTS clients at once; `then` looks at what was heard after each answer."""
    heard, waiting = Heard(), iter(bodies)

    async def client() -> None:
        async with dojo_at(url) as dojo:
            for body in waiting:
                key = body["dojoOrderId"]
                try:
                    response = await dojo.post("/v1/orders", json=body)
                except httpx.TransportError:  # refused, reset, or cut off mid-answer
                    heard.nothing.add(key)
                    continue
                if response.status_code == 200:
                    heard.orders[key] = response.json()
                else:
                    heard.errors[key] = response.status_code
                then(heard)

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return heard


async def every_order(dojo: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Walk SearchOrders to the end, a full page at a time."""
    found: list[dict[str, Any]] = []
    cursor: dict[str, Any] = {"limit": 100}
    while True:
        page = await dojo.post("/v1/orders/search", json={"cursor": cursor})
        assert page.status_code == 200, page.text
        found += page.json()["data"]
        if "after" not in page.json():
            return found
        cursor = {"limit": 100, "after": page.json()["after"]}


async def test_a_server_killed_under_load_keeps_every_order_it_answered_and_retries_create_nothing_twice(
    database_url: str,
):
    bodies = [make_order() for _ in range(ORDERS)]
    # Dojo's Order carries no dojoOrderId; each body's reference is as unique.
    dojo_order_of = {body["reference"]: body["dojoOrderId"] for body in bodies}
    assert len(dojo_order_of) == ORDERS
    server = ServerProcess(environment(database_url), args=())
    server.start()
    killed: list[int] = []

    def crash(heard: Heard) -> None:
        if len(heard.orders) == KILL_AFTER:  # mid-stream: other clients' requests are on the wire
            killed.append(server.stop(signal.SIGKILL))

    try:
        first = await create_all(server.url, bodies, crash)
        assert killed == [-signal.SIGKILL]
        assert first.nothing, "the kill came after every request was answered"
        assert set(first.errors.values()) <= {503}, first.errors  # a 503 says retry; a 500 would be a bug
        server.start()  # on the same database: everything below is what survived the crash
        async with dojo_at(server.url) as dojo:
            for key, answered in first.orders.items():
                found = await dojo.get(f"/v1/orders/{answered['id']}")
                assert found.status_code == 200, f"{key} was answered {answered['id']}, then lost"
                assert found.json() == answered
                assert dojo_order_of[answered["reference"]] == key
            survived = Counter(dojo_order_of[order["reference"]] for order in await every_order(dojo))
            assert max(survived.values()) == 1, "an order was placed twice"
            assert set(first.orders) <= set(survived)

            retried = await create_all(server.url, bodies, lambda heard: None)
            assert (retried.errors, retried.nothing) == ({}, set())
            for key, answered in first.orders.items():
                assert retried.orders[key]["id"] == answered["id"]
            listed = Counter(dojo_order_of[order["reference"]] for order in await every_order(dojo))
        assert listed == Counter(dojo_order_of.values())  # every order, once
        assert await rows(database_url) == rows_of(bodies)
        assert await orphans(database_url) == {}
    finally:
        if server.process is not None and server.process.returncode is None:
            server.stop()


# -- PostgreSQL going away ----------------------------------------------------------------------


def via(proxy: TcpProxy, database_url: str) -> str:
    """The same database, reached through the proxy."""
    return make_url(database_url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


def unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    body = response.json()
    assert body.get("errorType", "UnexpectedError") == "UnexpectedError"  # /readyz answers in its own words
    assert body["traceId"]


@pytest.fixture
def behind_proxy(database_url: str) -> Iterator[tuple[TcpProxy, ServerProcess]]:
    """A real server whose every database connection goes through a proxy the test can cut."""
    real = make_url(database_url)
    with TcpProxy(real.host or "127.0.0.1", real.port or 5432) as proxy:
        server = ServerProcess(
            environment(via(proxy, database_url), ORDERPASS_BUSY_TIMEOUT_MS="200"), args=()
        )
        server.start()
        try:
            yield proxy, server
        finally:
            server.stop()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.skipif(POSTGRES_URL is None, reason=NO_POSTGRES)
async def test_postgres_going_away_is_503_with_retry_after_and_service_resumes_when_it_is_back(
    behind_proxy: tuple[TcpProxy, ServerProcess], database_url: str
):
    proxy, server = behind_proxy
    earlier, body = make_order(), make_order()
    async with dojo_at(server.url) as dojo:
        before = await dojo.post("/v1/orders", json=earlier)
        assert before.status_code == 200  # the pool now holds live connections

        proxy.cut()
        unavailable(await dojo.post("/v1/orders", json=body))
        unavailable(await dojo.get(f"/v1/orders/{before.json()['id']}"))
        unavailable(await dojo.post("/v1/orders", json=body))  # Dojo retries too soon
        unavailable(await dojo.get("/readyz"))
        assert (await dojo.get("/healthz")).status_code == 200
        assert await rows(database_url) == rows_of([earlier])  # nothing of it written

        proxy.restore()
        assert (await dojo.get("/readyz")).status_code == 200
        placed = await dojo.post("/v1/orders", json=body)
        assert placed.status_code == 200, placed.text
        again = await dojo.post("/v1/orders", json=body)
        assert again.json()["id"] == placed.json()["id"]
        assert (await dojo.get(f"/v1/orders/{before.json()['id']}")).json() == before.json()
        listed = Counter(order["reference"] for order in await every_order(dojo))
    assert listed == {earlier["reference"]: 1, body["reference"]: 1}
    assert await rows(database_url) == rows_of([earlier, body])
    assert await orphans(database_url) == {}


# PostgreSQL's wire protocol: the client's COMMIT (a simple Query), and the server's CommandComplete
# that says it committed.
COMMIT = b"Q\x00\x00\x00\x0cCOMMIT;\x00"
COMMITTED = b"C\x00\x00\x00\x0bCOMMIT\x00"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.skipif(POSTGRES_URL is None, reason=NO_POSTGRES)
@pytest.mark.parametrize(
    ("from_server", "committed"),
    [(False, 0), (True, 1)],
    ids=["commit-never-arrives", "commit-answer-lost"],
)
async def test_a_connection_lost_at_commit_is_503_and_the_retry_places_the_order_once(
    behind_proxy: tuple[TcpProxy, ServerProcess], database_url: str, from_server: bool, committed: int
):
    proxy, server = behind_proxy
    body = make_order()
    async with dojo_at(server.url) as dojo:
        # the commit of the order's own transaction, not of a background worker's read elsewhere
        proxy.cut_at(
            COMMITTED if from_server else COMMIT, from_server=from_server, after=b"INSERT INTO orders"
        )
        unavailable(await dojo.post("/v1/orders", json=body))
        assert proxy.tripped
        assert await rows(database_url) == rows_of([body] * committed)  # all of the order, or none of it

        proxy.restore()
        placed = await dojo.post("/v1/orders", json=body)
        assert placed.status_code == 200, placed.text
        assert (await dojo.get(f"/v1/orders/{placed.json()['id']}")).json() == placed.json()
        listed = Counter(order["reference"] for order in await every_order(dojo))
    assert listed == {body["reference"]: 1}
    assert await rows(database_url) == rows_of([body])
    assert await orphans(database_url) == {}


# -- the database, read behind the server's back ------------------------------------------------


def rows_of(bodies: list[dict[str, Any]]) -> dict[str, int]:
    """The rows these orders take, once each: an item line per item and per sub-item."""
    return {
        "orders": len(bodies),
        "order_items": sum(1 + len(item.get("subItems") or ()) for b in bodies for item in b["items"]),
        "order_discounts": sum(len(b.get("discounts") or ()) for b in bodies),
        "order_tax_lines": sum(len(b.get("taxLines") or ()) for b in bodies),
        "payments": sum(len(b.get("payments") or ()) for b in bodies),
        "order_history": len(bodies),  # its creation
        "order_changes": len(bodies),
    }


async def rows(database_url: str) -> dict[str, int]:
    return await counts(database_url, "SELECT count(*) FROM {}")


async def orphans(database_url: str) -> dict[str, int]:
    """Rows that name an order that is not there (order_changes has no foreign key to stop them)."""
    found = await counts(
        database_url, "SELECT count(*) FROM {} WHERE order_id NOT IN (SELECT id FROM orders)", skip="orders"
    )
    return {table: count for table, count in found.items() if count}


async def counts(database_url: str, query: str, *, skip: str = "") -> dict[str, int]:
    engine = create_async_engine(async_url(database_url))
    try:
        async with engine.connect() as db:
            return {
                table: (await db.execute(text(query.format(table)))).scalar_one()
                for table in WRITTEN
                if table != skip
            }
    finally:
        await engine.dispose()
