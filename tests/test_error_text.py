"""What a failing database says to the outside: our own words, the same on every door (Dojo's
`debugMessage`, a GraphQL error). The driver's text (sqlite3, asyncpg, SQL, file paths, hosts)
goes to our log only, at WARNING, under the traceId the client was given.

Real failures, against the real `orderpass serve`: a SQLite file another connection holds the
write lock on, PostgreSQL cut off behind a proxy, and a constraint the database enforces."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.engine import make_url

from server.settings import Settings
from server.staff.roles import Role
from tests.conftest import NO_POSTGRES, POSTGRES_URL, LiveServer, dojo_client, mint
from tests.factories import make_order
from tests.postgres import run_sql
from tests.processes import DOJO_AUTH, ServerProcess, environment
from tests.tcp_proxy import TcpProxy

BUSY = "the database is busy; retry"
DOWN = "the database is unavailable; retry"
CLASHED = "this order clashed with a concurrent one; retry"
# What only a driver, the SQL or the machine would say.
DRIVER_WORDS = (
    "sqlite",
    "database is locked",
    "asyncpg",
    "psycopg",
    "sqlalchemy",
    "errno",
    "connect call",
    "connection",
    "select ",
    "insert ",
    "update ",
    "begin",
    "constraint",
    "payments",
    "127.0.0.1",
    "/",
)
MOVE = """mutation($id: ID!) { moveOrder(id: $id, to: ACCEPTED) { __typename } }"""


def leaks(text: str, *more: str) -> list[str]:
    return [word for word in (*DRIVER_WORDS, *more) if word in text.lower()]


def ours(response: httpx.Response, message: str, *more: str) -> str:
    """The EPOSError (or /readyz's answer) carries exactly our words, and nothing in the body is
    the driver's; its traceId."""
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    body = response.json()
    said = (
        (body["errorType"], body["debugMessage"])
        if "errorType" in body
        else ("UnexpectedError", body["message"])
    )
    assert said == ("UnexpectedError", message)
    assert leaks(response.text.replace(body["traceId"], ""), *more) == []
    return str(body["traceId"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def logged(server: ServerProcess, trace: str) -> list[dict[str, Any]]:
    """The server's WARNING lines under this traceId (it logs JSON lines)."""
    lines = [orjson.loads(line) for line in server.stderr.splitlines() if line.startswith("{")]
    return [line for line in lines if line["traceId"] == trace and line["level"] == "WARNING"]


@contextlib.contextmanager
def write_locked(path: Path) -> Iterator[None]:
    """Another connection holds SQLite's write lock, as a second process's long write would."""
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


async def test_a_locked_sqlite_file_is_503_in_our_words_and_its_text_only_in_the_log(
    sqlite_path: Path, database_url: str
):
    token = await mint(Settings(database_url=database_url), Role.ADMIN)
    server = ServerProcess(environment(database_url, ORDERPASS_BUSY_TIMEOUT_MS="200"), args=())
    server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, auth=DOJO_AUTH, timeout=30) as dojo:
            order_id = (await dojo.post("/v1/orders", json=make_order())).json()["id"]
            with write_locked(sqlite_path):
                trace = ours(await dojo.post("/v1/orders", json=make_order()), BUSY, str(sqlite_path))
                async with httpx.AsyncClient(base_url=server.url, headers=bearer(token), timeout=30) as staff:
                    moved = await staff.post("/graphql", json={"query": MOVE, "variables": {"id": order_id}})
        assert moved.json()["errors"][0]["message"] == BUSY
        assert moved.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
        assert leaks(moved.text) == []
    finally:
        server.stop()
    said = " ".join(line["msg"] for line in logged(server, trace))
    assert "database is locked" in said


# -- PostgreSQL cut off -------------------------------------------------------------------------


@pytest.fixture
def cut_off(database_url: str) -> Iterator[tuple[TcpProxy, ServerProcess]]:
    real = make_url(database_url)
    with TcpProxy(real.host or "127.0.0.1", real.port or 5432) as proxy:
        through = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        server = ServerProcess(environment(through, ORDERPASS_BUSY_TIMEOUT_MS="200"), args=())
        server.start()
        try:
            yield proxy, server
        finally:
            server.stop()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.skipif(POSTGRES_URL is None, reason=NO_POSTGRES)
async def test_postgres_cut_off_is_503_in_our_words_and_its_text_only_in_the_log(
    cut_off: tuple[TcpProxy, ServerProcess],
):
    proxy, server = cut_off
    async with httpx.AsyncClient(base_url=server.url, auth=DOJO_AUTH, timeout=30) as dojo:
        order_id = (await dojo.post("/v1/orders", json=make_order())).json()["id"]
        proxy.cut()
        traces = [
            ours(await dojo.post("/v1/orders", json=make_order()), DOWN, str(proxy.port)),
            ours(await dojo.get(f"/v1/orders/{order_id}"), DOWN, str(proxy.port)),
            ours(await dojo.get("/readyz"), DOWN, str(proxy.port)),
        ]
    server.stop()
    for trace in traces:
        assert logged(server, trace), f"nothing in the log under {trace}"
        assert any(leaks(line["msg"]) for line in logged(server, trace))  # the driver's own words


# -- a constraint the database enforces ---------------------------------------------------------

REFUSE_SQLITE = """CREATE TRIGGER refuse_payments BEFORE INSERT ON payments
BEGIN SELECT RAISE(ABORT, 'UNIQUE constraint failed: payments.payment_intent_id'); END"""
REFUSE_POSTGRES = (
    """CREATE FUNCTION refuse_payments() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    RAISE unique_violation USING MESSAGE = 'duplicate key value violates unique constraint "payments_pkey"';
    END $$""",
    """CREATE TRIGGER refuse_payments BEFORE INSERT ON payments
    FOR EACH ROW EXECUTE FUNCTION refuse_payments()""",
)


async def test_a_payment_intent_taken_meanwhile_is_503_in_our_words(
    serve: Callable[..., LiveServer], database_url: str, caplog
):
    for statement in (REFUSE_SQLITE,) if database_url.startswith("sqlite") else REFUSE_POSTGRES:
        run_sql(database_url, statement)
    server = serve()
    with caplog.at_level(logging.WARNING):
        async with dojo_client(server) as dojo:
            ours(await dojo.post("/v1/orders", json=make_order()), CLASHED)
    assert any("payments" in record.getMessage() for record in caplog.records)
