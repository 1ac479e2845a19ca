"""A response leaves `orderpass serve` in one write (server/serving.py, OneWrite): uvicorn wrote
the head and the body apart, two sends and two TCP segments for every answer. The head is held
until the body's first write; a head whose body does not follow at once still leaves on the
loop's next turn. First with an in-memory transport that counts the writes, then through a real
uvicorn on loopback with HeadGuard as its protocol: streams, HEAD, `Expect: 100-continue`,
keep-alive and `Connection: close` still behave."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from server import serving
from tests.processes import Threaded


class Recorded:
    """A transport that keeps what is written to it, one entry a write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        assert not self.closing, "written after close"
        self.writes.append(data)

    def close(self) -> None:
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing


def one_write(transport: Recorded) -> serving.OneWrite:
    return serving.OneWrite(transport, asyncio.get_running_loop())  # type: ignore[arg-type]


async def test_the_head_leaves_with_the_body_in_one_write():
    transport = Recorded()
    writer = one_write(transport)
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    assert transport.writes == []
    writer.write(b"{}")
    assert transport.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
    await asyncio.sleep(0)  # the head's flush finds nothing left
    assert len(transport.writes) == 1


async def test_a_large_body_follows_its_head_rather_than_being_copied_onto_it():
    transport = Recorded()
    writer = one_write(transport)
    body = b"x" * (serving.JOINED_BYTES + 1)
    writer.write(b"HEAD")
    writer.write(body)
    assert transport.writes == [b"HEAD", body]


async def test_a_head_whose_body_is_late_leaves_on_the_next_turn_and_the_body_after_it():
    transport = Recorded()
    writer = one_write(transport)
    writer.write(b"HEAD")
    await asyncio.sleep(0)
    assert transport.writes == [b"HEAD"]
    writer.write(b"chunk 1")
    writer.write(b"chunk 2")
    assert transport.writes == [b"HEAD", b"chunk 1", b"chunk 2"]


async def test_closing_sends_the_held_head_first():
    transport = Recorded()
    writer = one_write(transport)
    writer.write(b"HEAD")
    writer.close()
    assert transport.writes == [b"HEAD"]
    assert writer.is_closing()
    await asyncio.sleep(0)
    assert transport.writes == [b"HEAD"]


async def test_a_head_held_for_a_connection_that_went_away_is_dropped():
    transport = Recorded()
    writer = one_write(transport)
    writer.write(b"HEAD")
    transport.close()  # the client left; uvicorn closes the transport itself
    await asyncio.sleep(0)
    assert transport.writes == []


class Connection(Recorded):
    """What HeadGuard, as uvicorn builds it, asks of a connection's transport."""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def get_protocol(self) -> Any: ...


async def test_headguard_sends_each_answer_on_a_connection_in_one_write():
    """The protocol `orderpass serve` runs installs OneWrite on every request's cycle: two
    answers on one keep-alive connection are two writes, each its head and body together."""
    config = uvicorn.Config(app, log_config=None, lifespan="off")
    config.load()
    head = serving.HeadLimits(seconds=10, max_bytes=16 * 1024)
    protocol = serving.HeadGuard(config, uvicorn.server.ServerState(), {}, head=head)
    connection = Connection()
    protocol.connection_made(connection)  # type: ignore[arg-type]
    try:
        for body in (b"one", b"two"):
            protocol.data_received(b"POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\n" + body)
            for _ in range(100):
                if connection.writes and connection.writes[-1].endswith(b"echo:" + body):
                    break
                await asyncio.sleep(0.01)
        assert len(connection.writes) == 2
        for written, body in zip(connection.writes, (b"one", b"two"), strict=True):
            assert written.startswith(b"HTTP/1.1 200 OK\r\n")
            assert written.endswith(b"\r\n\r\necho:" + body)
    finally:
        protocol.connection_lost(None)


# -- through uvicorn, with HeadGuard as `orderpass serve` runs it -----------------------------

RELEASE = threading.Event()  # the streaming answer's body waits for the test to see its head


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/stream":
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"transfer-encoding", b"chunked")]}
        )
        await asyncio.to_thread(RELEASE.wait, 5)
        await send({"type": "http.response.body", "body": b"late", "more_body": False})
        return
    answer = b"echo:" + body
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    head = serving.HeadLimits(seconds=10, max_bytes=16 * 1024)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, lifespan="off",
        http=functools.partial(serving.HeadGuard, head=head),  # type: ignore[arg-type]
    )  # fmt: skip
    served = Threaded.start(config)
    yield served.port
    served.stop()


async def response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ),
        0,
    )
    return head, await asyncio.wait_for(reader.readexactly(length), 5)


async def test_answers_on_one_connection_come_whole_and_in_order(port: int):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\none")
        writer.write(b"POST /b HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\ntwo")  # pipelined
        first, second = await response(reader), await response(reader)
        assert first[0].startswith(b"HTTP/1.1 200 OK\r\n")
        assert first[1] == b"echo:one"
        assert second[0].startswith(b"HTTP/1.1 200 OK\r\n")
        assert second[1] == b"echo:two"
        writer.write(b"HEAD /c HTTP/1.1\r\nhost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)  # no body follows a HEAD's
        assert b"content-length: 5" in head.lower()
        writer.write(b"GET /d HTTP/1.1\r\nhost: x\r\n\r\n")  # after HEAD, no body came between
        assert (await response(reader))[1] == b"echo:"
    finally:
        writer.close()


async def test_a_client_that_expects_100_continue_hears_it_before_it_sends_the_body(port: int):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"POST /e HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\nexpect: 100-continue\r\n\r\n")
        assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5) == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"body")
        assert (await response(reader))[1] == b"echo:body"
    finally:
        writer.close()


async def test_a_streamed_answer_shows_its_head_before_its_body_exists(port: int):
    RELEASE.clear()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)  # the body is still held back
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"transfer-encoding: chunked" in head
        RELEASE.set()
        assert await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 5) == b"4\r\nlate\r\n0\r\n\r\n"
    finally:
        RELEASE.set()
        writer.close()


async def test_connection_close_still_ends_the_connection_after_the_answer(port: int):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /f HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        everything = await asyncio.wait_for(reader.read(), 5)  # up to the server's close
        assert everything.startswith(b"HTTP/1.1 200 OK\r\n")
        assert everything.endswith(b"\r\n\r\necho:")
    finally:
        writer.close()
