"""No secret in any log line, at any level: the redactor, and a real server run at DEBUG."""

from __future__ import annotations

import asyncio
import base64
import logging
import sys
from pathlib import Path

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from server.logs import REDACTED, JsonFormatter, Redactor
from server.staff.roles import Role
from tests.conftest import LiveServer, mint
from tests.factories import make_order
from tests.fake_dojo import FakeDojo
from tests.processes import DOJO_AUTH, clean_environment, run, serving


@pytest.mark.parametrize(
    "line",
    [
        "< authorization: Bearer opt_PWI3RY7xgY5ZBul2goPmz5UtTfahRaOpJqNHf0f2vIk",
        "< Authorization: Basic ZG9qbzpTdXBlclNlY3JldFB3",
        "< cookie: orderpass_kds=opt_PWI3RY7xgY5ZBul2goPmz5UtTfahRaOpJqNHf0f2vIk; theme=dark",
        '{"headers": {"Cookie": "a=b; orderpass_kds=opt_PWI3RY7xgY5ZBul2goPmz5UtTf"}}',
        "GET /kds?token=opt_PWI3RY7xgY5ZBul2goPmz5UtTfahRaOpJqNHf0f2vIk HTTP/1.1",
        "paired with opt_PWI3RY7xgY5ZBul2goPmz5UtTfahRaOpJqNHf0f2vIk",
        "bearer   opt_PWI3RY7xgY5ZBul2goPmz5UtTfahRaOpJqNHf0f2vIk",
        "login form: next=/kds&token=opt_PWI3RY7xgY5ZBul2goPmz5U",
        # Spellings the pattern's IGNORECASE takes for ASCII (the quick look before it must too)
        "< AUTHOR\u0130ZATION: Basic ZG9qbzpTdXBlclNlY3JldFB3",
        "< author\u0131Zation: Bearer PWI3RY7xgY5ZBul2goPmz5UtTfahRaOpJqNHf0f2vIk",
        "GET /kds?pa\u017f\u017fword=PWI3RY7xgY5ZBul2goPmz5U HTTP/1.1",
        "< COOKIE: ORDERPASS_KDS=PWI3RY7xgY5ZBul2goPmz5U",
    ],
)
def test_known_shapes_of_secrets_are_redacted(line: str):
    redacted = Redactor()(line)
    assert "PWI3RY7x" not in redacted
    assert "ZG9qbzpTdXBlclNlY3JldFB3" not in redacted
    assert REDACTED in redacted


def test_configured_secrets_are_redacted_wherever_they_appear():
    redact = Redactor(["SuperSecretPw", "sk_live_APIKEY", None, ""])
    assert (
        redact("failed with SuperSecretPw and sk_live_APIKEY.") == f"failed with {REDACTED} and {REDACTED}."
    )


def test_ordinary_lines_are_left_alone():
    line = "POST /v1/orders 200 (token count 3, bearer of news, basic plan)"
    assert Redactor(["x"])(line) == line


def test_a_debug_run_logs_no_token_password_or_api_key(tmp_path: Path, fake_dojo: FakeDojo):
    password, api_key = "SuperSecret-Pw-1", fake_dojo.api_key
    env = {
        **clean_environment(),
        "ORDERPASS_DATABASE_URL": f"sqlite:///{tmp_path}/logs.db",
        "ORDERPASS_LOG_LEVEL": "DEBUG",
        "ORDERPASS_DOJO_USERNAME": "dojo",
        "ORDERPASS_DOJO_PASSWORD": password,
        "ORDERPASS_DOJO_API_KEY": api_key,
        "ORDERPASS_DOJO_API_URL": fake_dojo.url,
        "ORDERPASS_DOJO_EVENT_DELAY_MS": "1",
    }
    assert run("db", "upgrade", env=env).returncode == 0
    token = run("token", "create", "--role", "admin", "--name", "office", env=env).stdout.strip()
    with serving(env) as server:
        asyncio.run(_use_every_credential(server.url, token, password))
        server.stop()
    log = server.stderr
    assert '"level":"DEBUG"' in log  # the run really was at DEBUG
    basic = base64.b64encode(f"dojo:{password}".encode()).decode()
    for secret in (token, token.removeprefix("opt_"), password, api_key, basic):
        assert secret not in log


async def _use_every_credential(url: str, token: str, password: str) -> None:
    bearer = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url) as client:
        placed = await client.post("/v1/orders", json=make_order(), auth=("dojo", password))
        assert placed.status_code == 200
        await client.post("/v1/orders", json=make_order(), auth=("dojo", "wrong-" + password))
        await client.post("/graphql", json={"query": "{ lastSequence }"}, headers=bearer)
        await client.get(f"/kds?token={token}")
        await client.post("/kds/login", data={"token": token, "next": "/kds"}, headers={"Origin": url})
    ws_url = url.replace("http://", "ws://") + "/graphql"
    headers = {**bearer, "Cookie": f"orderpass_kds={token}"}
    async with connect(
        ws_url, subprotocols=[Subprotocol("graphql-transport-ws")], additional_headers=headers
    ) as ws:
        await ws.send(
            orjson.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
            ).decode()
        )
        await ws.recv()
    await asyncio.sleep(0.5)  # the order's POS event goes to (fake) Dojo with the API key


async def test_a_screens_routine_fetches_are_logged_at_debug_and_everything_else_at_info(
    live_server: LiveServer, caplog: pytest.LogCaptureFixture
):
    """A busy board fetches a ticket and its panels after every change: a line each at INFO
    buried the dev server's terminal."""
    caplog.set_level(logging.DEBUG, logger="orderpass.access")
    token = await mint(live_server.settings, Role.KITCHEN, "pass")
    async with httpx.AsyncClient(base_url=live_server.url) as screen:
        await screen.get(f"/kds?token={token}")
        for path in (
            "/kds/allday?stage=all",
            "/kds/count?stage=all&shown=0",
            "/static/kds.js",
            "/kds?stage=all",
        ):
            assert (await screen.get(path)).status_code == 200
        assert (await screen.get("/kds/tickets/ord_nosuch?station=nowhere")).status_code == 404
    await asyncio.sleep(0.1)  # the server's thread logs after answering
    levels = {record.path: record.levelname for record in caplog.records if hasattr(record, "path")}
    assert levels["/kds/allday"] == levels["/kds/count"] == levels["/static/kds.js"] == "DEBUG"
    assert levels["/kds"] == "INFO"
    assert levels["/kds/tickets/ord_nosuch"] == "INFO"  # a failure is worth a line


async def test_at_info_a_routine_fetch_leaves_no_line_and_every_other_request_still_one(
    live_server: LiveServer, caplog: pytest.LogCaptureFixture
):
    """The access line is built only at a level that keeps it: this is the other side of it."""
    caplog.set_level(logging.INFO, logger="orderpass.access")
    token = await mint(live_server.settings, Role.KITCHEN, "pass")
    async with httpx.AsyncClient(base_url=live_server.url) as screen:
        await screen.get(f"/kds?token={token}")
        assert (await screen.get("/static/kds.js")).status_code == 200
        assert (await screen.get("/kds?stage=all")).status_code == 200
        assert (await screen.get("/kds/tickets/ord_nosuch?station=nowhere")).status_code == 404
    await asyncio.sleep(0.1)  # the server's thread logs after answering
    lines = [(record.path, record.levelname) for record in caplog.records if hasattr(record, "path")]
    assert ("/kds", "INFO") in lines
    assert ("/kds/tickets/ord_nosuch", "INFO") in lines
    assert [path for path, _ in lines if path == "/static/kds.js"] == []


def test_a_traceback_stays_on_its_events_one_line_redacted_with_the_standard_fields():
    try:
        raise RuntimeError("Dojo said no to Basic c2stbGl2ZS1zZWNyZXQ= and SuperSecretPw")
    except RuntimeError:
        record = logging.getLogger("orderpass.errors").makeRecord(
            "orderpass.errors", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info(),
            extra={"path": "/v1/orders"},
        )  # fmt: skip
    line = JsonFormatter(Redactor(["SuperSecretPw"])).format(record)
    assert "\n" not in line  # one line per event, the traceback's newlines escaped inside it
    entry = orjson.loads(line)
    assert {"ts", "level", "logger", "msg", "traceId", "path", "exception"} <= entry.keys()
    assert (entry["level"], entry["logger"], entry["msg"]) == ("ERROR", "orderpass.errors", "failed here")
    assert "RuntimeError" in entry["exception"]
    assert "exc_info" not in entry
    assert "SuperSecretPw" not in line
    assert "c2stbGl2ZS1zZWNyZXQ=" not in line


@pytest.mark.parametrize("door", ["/v1/orders", "/graphql"])
async def test_a_client_that_leaves_mid_body_is_logged_as_499_not_as_a_bug(
    live_server: LiveServer, caplog: pytest.LogCaptureFixture, door: str
):
    """Dojo's door and the GraphQL door read a body before anything else: a client that sends
    half of one and goes away leaves nobody to answer, and nothing went wrong here."""
    if door == "/graphql":
        credential = f"Bearer {await mint(live_server.settings, Role.ADMIN)}"
    else:
        credential = "Basic " + base64.b64encode(f"{DOJO_AUTH[0]}:{DOJO_AUTH[1]}".encode()).decode()
    host, port = live_server.url.removeprefix("http://").split(":")
    with caplog.at_level(logging.INFO):
        _, writer = await asyncio.open_connection(host, int(port))
        head = f"POST {door} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        head += f"authorization: {credential}\r\ncontent-length: 1000\r\n\r\n"
        writer.write(head.encode() + b'{"items": [')
        await writer.drain()
        await asyncio.sleep(0.2)  # the door is waiting for the rest of the body
        writer.close()
        await writer.wait_closed()
        for _ in range(100):  # until the server has heard it go
            if any(getattr(r, "path", None) == door for r in caplog.records):
                break
            await asyncio.sleep(0.05)
    lines = [r for r in caplog.records if r.name == "orderpass.access" and getattr(r, "path", None) == door]
    assert [getattr(r, "status", None) for r in lines] == [499]
    assert not [r for r in caplog.records if r.name == "orderpass.errors"], "a client leaving is not a bug"
    assert not any(r.exc_info for r in caplog.records)
