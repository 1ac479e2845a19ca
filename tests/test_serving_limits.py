"""The real `orderpass serve` against slow and greedy clients, over raw sockets: a request head
must arrive whole within the header timeout (slowloris), be no larger than the header limit,
and connections past the limit are answered 503 rather than left to hang the server.

These assertions are about time, because the behaviour is: each deadline is the setting plus a
generous allowance (SLACK) for a loaded machine."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Frame, Opcode
from websockets.typing import Subprotocol

from server import serving
from server.settings import Settings
from tests.processes import DOJO_AUTH, ServerProcess, clean_environment

HEADER_TIMEOUT, KEEP_ALIVE, PING = 1, 1, 1
MAX_CONNECTIONS, STALLED = 20, 30
MAX_HEADER_BYTES = 16 * 1024
WS_MAX = 64 * 1024
SLACK = 2.5  # seconds beyond a deadline before the test calls it missed
HALF = b"GET /healthz HT"
Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture(scope="module")
def server(migrated_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    database = tmp_path_factory.mktemp("serving") / "orderpass.db"
    shutil.copy(migrated_template, database)
    env = clean_environment() | {
        "ORDERPASS_DATABASE_URL": f"sqlite:///{database}",
        "ORDERPASS_DOJO_USERNAME": DOJO_AUTH[0],
        "ORDERPASS_DOJO_PASSWORD": DOJO_AUTH[1],
        "ORDERPASS_LOG_LEVEL": "ERROR",  # past the limit, uvicorn warns once per refused request
        "ORDERPASS_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        "ORDERPASS_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
        "ORDERPASS_KEEP_ALIVE_SECONDS": str(KEEP_ALIVE),
        "ORDERPASS_MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
        "ORDERPASS_WS_MAX_MESSAGE_BYTES": str(WS_MAX),
        "ORDERPASS_WS_PROTOCOL_PING_SECONDS": str(PING),
    }
    process = ServerProcess(env, args=())
    process.start()
    yield process
    process.stop()


@pytest.fixture
async def opened(server: ServerProcess) -> AsyncIterator[list[Stream]]:
    """Raw connections a test opens; whatever the server left open is closed after it."""
    streams: list[Stream] = []
    yield streams
    for _, writer in streams:
        writer.close()


async def connection(server: ServerProcess, opened: list[Stream], sent: bytes = b"") -> Stream:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    opened.append((reader, writer))
    if sent:
        writer.write(sent)
        await writer.drain()
    return reader, writer


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server sent before it closed the connection, which it must do in time."""
    try:
        return await asyncio.wait_for(reader.read(), seconds)
    except ConnectionResetError:
        return b""


async def test_a_half_sent_request_line_is_closed_within_the_header_timeout(server, opened):
    reader, _ = await connection(server, opened, HALF)
    started = time.monotonic()

    assert await closed_within(reader, HEADER_TIMEOUT + SLACK) == b""
    assert time.monotonic() - started >= HEADER_TIMEOUT * 0.9  # not at once: it had its time


async def test_a_connection_that_sends_nothing_is_closed_within_the_header_timeout(server, opened):
    reader, _ = await connection(server, opened)

    assert await closed_within(reader, HEADER_TIMEOUT + SLACK) == b""


async def test_a_head_trickled_a_byte_at_a_time_is_closed_at_the_deadline_not_kept_alive(server, opened):
    reader, writer = await connection(server, opened)
    request = b"GET /healthz HTTP/1.1\r\nHost: orderpass\r\nX-Slow: " + b"a" * 100 + b"\r\n\r\n"

    async def trickle() -> None:
        for byte in request:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.1)  # never idle for long, never done

    trickling = asyncio.create_task(trickle())
    try:
        assert await closed_within(reader, HEADER_TIMEOUT + SLACK) == b""
    finally:
        trickling.cancel()
        await asyncio.gather(trickling, return_exceptions=True)


async def test_thirty_stalled_sockets_past_a_limit_of_twenty_do_not_hang_the_server(server, opened):
    stalled = [await connection(server, opened, HALF) for _ in range(STALLED)]

    async with httpx.AsyncClient(timeout=HEADER_TIMEOUT + SLACK) as client:
        meanwhile = await client.get(f"{server.url}/healthz")
        assert meanwhile.status_code in (200, 503)  # answered either way; 503 for what is past the limit
        for reader, _ in stalled:
            assert await closed_within(reader, HEADER_TIMEOUT + SLACK) == b""
        assert (await client.get(f"{server.url}/healthz")).status_code == 200


async def test_a_head_over_the_header_limit_is_refused_with_431(server, opened):
    filler = b"".join(b"X-Filler-%d: %s\r\n" % (index, b"a" * 1000) for index in range(20))  # 20 KiB
    reader, _ = await connection(server, opened, b"GET /healthz HTTP/1.1\r\nHost: orderpass\r\n" + filler)

    answer = await closed_within(reader, SLACK)

    assert answer.startswith(b"HTTP/1.1 431 ")


async def test_a_large_body_sent_with_its_head_in_one_go_is_no_oversized_head(server, opened):
    body = b'{"note": "%s"}' % (b"x" * (300 * 1024))
    basic = base64.b64encode(":".join(DOJO_AUTH).encode())
    head = (
        b"POST /v1/orders HTTP/1.1\r\nHost: orderpass\r\nConnection: close\r\nAuthorization: Basic %s\r\n"
        % basic
    )
    reader, _ = await connection(server, opened, head + b"Content-Length: %d\r\n\r\n" % len(body) + body)

    answer = await closed_within(reader, SLACK)

    assert answer.startswith(b"HTTP/1.1 400 ")  # CreateOrder's answer to a body it read, not 431


async def test_no_answer_names_the_server_software(server, opened):
    """`server: uvicorn` on every answer told a stranger what to probe for, and no client needs it."""
    for path in (b"/healthz", b"/v1/orders/x", b"/graphql", b"/nowhere"):
        reader, _ = await connection(
            server, opened, b"GET %s HTTP/1.1\r\nHost: orderpass\r\nConnection: close\r\n\r\n" % path
        )
        head = (await closed_within(reader, SLACK)).split(b"\r\n\r\n", 1)[0].lower()
        assert head.startswith(b"http/1.1 "), head
        assert b"\r\nserver:" not in head, head
        assert b"uvicorn" not in head, head


async def test_an_idle_kept_alive_connection_is_closed_after_keep_alive_seconds(server, opened):
    reader, _ = await connection(server, opened, b"GET /healthz HTTP/1.1\r\nHost: orderpass\r\n\r\n")
    assert (await asyncio.wait_for(reader.readuntil(b"\r\n"), SLACK)).startswith(b"HTTP/1.1 200 ")

    await closed_within(reader, KEEP_ALIVE + SLACK)


# -- WebSockets ---------------------------------------------------------------------------------


def ws_url(server: ServerProcess) -> str:
    return server.url.replace("http://", "ws://") + "/graphql"


async def test_a_websocket_message_over_the_limit_closes_the_socket(server):
    async with connect(ws_url(server), subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        await ws.send("x" * (WS_MAX + 1))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), SLACK)

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009  # message too big


async def test_a_websocket_that_never_answers_pings_is_closed(server, opened):
    key = base64.b64encode(os.urandom(16))
    handshake = (
        b"GET /graphql HTTP/1.1\r\nHost: orderpass\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n" % key
    )
    reader, _ = await connection(server, opened, handshake)
    assert (await asyncio.wait_for(reader.readuntil(b"\r\n"), SLACK)).startswith(b"HTTP/1.1 101 ")

    # Pings arrive and go unanswered; the ping timeout closes it long before GraphQL's
    # connection_init wait (60 s) would.
    await closed_within(reader, 2 * PING + SLACK)


async def still_open(reader: asyncio.StreamReader) -> bool:
    try:
        await closed_within(reader, 0.05)
    except TimeoutError:
        return True
    return False


async def test_websocket_upgrades_count_towards_the_connection_limit(server, opened):
    """The limit's connections are half-sent requests, which the header timeout (1 s) closes: on
    a loaded machine some may be gone before the upgrade is tried. The upgrade must be refused
    whenever all of them were still open once it was answered; a round that lost one to the
    timeout proves nothing, and is tried again."""
    for _ in range(3):
        held = await asyncio.gather(*(connection(server, opened, HALF) for _ in range(MAX_CONNECTIONS)))
        try:
            async with connect(ws_url(server), subprotocols=[Subprotocol("graphql-transport-ws")]):
                refused = None
        except InvalidStatus as exc:
            refused = exc
        if refused is not None:
            assert refused.response.status_code == 503
            return
        states = await asyncio.gather(*(still_open(reader) for reader, _ in held))
        assert not all(states), f"upgraded past the limit of {MAX_CONNECTIONS} connections, all still open"
        for _, writer in held:
            writer.close()
        await asyncio.sleep(HEADER_TIMEOUT + 0.5)  # the rest have been closed by now
    pytest.fail("the header timeout closed some of the limit's connections before each upgrade")


# -- the options themselves ---------------------------------------------------------------------


def test_serve_runs_uvicorn_with_every_limit_from_the_settings():
    options = serving.options(Settings())

    assert options["limit_concurrency"] == 2000
    assert options["timeout_keep_alive"] == 5
    assert options["ws_max_size"] == 1024 * 1024
    assert (options["ws_ping_interval"], options["ws_ping_timeout"]) == (20, 20)
    assert options["http"].keywords["head"] == serving.HeadLimits(seconds=10, max_bytes=16 * 1024)


# -- LeanWebSocket's own queue and flag (server/serving.py) -----------------------------------


async def test_the_inbox_hands_messages_out_in_order_to_whoever_waits():
    inbox = serving.Inbox()
    waiting = [asyncio.create_task(inbox.get()) for _ in range(2)]
    await asyncio.sleep(0)
    assert inbox.empty()
    for message in ({"type": "websocket.connect"}, {"type": "websocket.receive", "text": "x"}, {"n": 3}):
        inbox.put_nowait(message)
    got = await asyncio.wait_for(asyncio.gather(*waiting), 5)
    assert sorted(map(str, got)) == sorted(
        map(str, [{"type": "websocket.connect"}, {"type": "websocket.receive", "text": "x"}])
    )
    assert not inbox.empty()
    assert await inbox.get() == {"n": 3}
    assert inbox.empty()


async def test_a_cancelled_getter_leaves_the_next_message_to_the_next_one():
    inbox = serving.Inbox()
    gone = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    gone.cancel()
    inbox.put_nowait("kept")
    assert await asyncio.wait_for(inbox.get(), 5) == "kept"


async def test_the_flag_holds_sends_while_cleared_and_lets_them_all_go_when_set():
    flag = serving.Flag()
    assert not flag.is_set()
    waiting = [asyncio.create_task(flag.wait()) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert not any(task.done() for task in waiting)
    flag.set()
    assert await asyncio.wait_for(asyncio.gather(*waiting), 5) == [True] * 3
    assert await flag.wait() is True  # set: no wait at all
    flag.clear()
    late = asyncio.create_task(flag.wait())
    await asyncio.sleep(0.01)
    assert not late.done()
    flag.set()
    assert await asyncio.wait_for(late, 5) is True


@pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_a_text_frame_is_framed_as_websockets_frames_it(length: int):
    data = b"x" * length
    expected = Frame(Opcode.TEXT, data).serialize(mask=False)
    assert serving._text_head(len(data)) + data == expected
