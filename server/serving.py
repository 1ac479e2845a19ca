"""How `orderpass serve` runs uvicorn: every keyword argument in one place, with the limits that
keep slow or greedy clients from holding the server (each a setting, see server/settings.py).

    limit_concurrency   ORDERPASS_MAX_CONNECTIONS: open connections (HTTP and WebSocket alike)
                        and requests in flight; a request past it is answered 503
    timeout_keep_alive  ORDERPASS_KEEP_ALIVE_SECONDS: an idle connection between requests
    ws_max_size         ORDERPASS_WS_MAX_MESSAGE_BYTES: one WebSocket message; larger closes 1009
    ws                  LeanWebSocket: uvicorn's websockets-sansio protocol, without the handshake
                        kept for the socket's whole life
    ws_per_message_deflate  off: zlib's state was ~50 KB of every idle kitchen screen's ~140 KB,
                        and every change was compressed once per screen (bench/fanout.py); a
                        ticket is a few hundred bytes on the venue's own network
    ws_ping_*           ORDERPASS_WS_PROTOCOL_PING_SECONDS: the WebSocket protocol's own ping
                        that often, and a socket whose pong is that late is closed (beneath
                        graphql-transport-ws's pings, which need a connection_init first)
    http                HeadGuard, for ORDERPASS_HEADER_TIMEOUT_SECONDS, ORDERPASS_MAX_HEADER_BYTES,
                        and a response's head and body in one write (OneWrite)
    server_header       off: no answer names the server software

uvicorn (0.54, httptools) leaves three gaps, measured against a real `orderpass serve` with raw
sockets (tests/test_serving_limits.py): nothing limits how long a request head may take to
arrive (a client that sent half a request line and stalled, or connected and sent nothing, was
still held after 120 s; the keep-alive timer runs only between a response and the next request's
first byte), nor how large it may be (1 MiB of headers was read and answered;
`h11_max_incomplete_event_size` is the h11 protocol's alone), and `limit_concurrency` is checked
for plain requests only, so WebSocket upgrades passed it. HeadGuard closes all three.
"""

from __future__ import annotations

import asyncio
import functools
import struct
from dataclasses import dataclass
from typing import Any

from uvicorn._types import ASGISendEvent
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.protocol import Protocol, State

from server.settings import Settings

GRACEFUL_SHUTDOWN_SECONDS = 15  # in-flight requests finish; sockets close with 1012 (reconnect)


def options(settings: Settings) -> dict[str, Any]:
    """uvicorn.run's keyword arguments for `orderpass serve`, all but where it listens."""
    head = HeadLimits(seconds=settings.header_timeout_seconds, max_bytes=settings.max_header_bytes)
    ping = float(settings.ws_protocol_ping_seconds)
    return {
        "factory": True,
        "http": functools.partial(HeadGuard, head=head),  # a partial pickles, for --workers
        "limit_concurrency": settings.max_connections,
        "timeout_keep_alive": settings.keep_alive_seconds,
        "ws": LeanWebSocket,
        "ws_max_size": settings.ws_max_message_bytes,
        "ws_per_message_deflate": False,
        "ws_ping_interval": ping,
        "ws_ping_timeout": ping,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        "log_config": None,  # server/logs.py configures logging, as JSON lines
        "access_log": False,  # our access line carries the traceId
        "server_header": False,  # `server: uvicorn` tells a stranger what to probe for; no client needs it
        "proxy_headers": False,  # X-Forwarded-For is a client's to forge unless a proxy is configured
    }


class LeanWebSocket(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol, lighter for a socket that stays open all day, as a
    kitchen screen's does (bench/fanout.py, bench/memory.py):
    - the handshake is let go once answered: uvicorn kept the upgrade request and the response,
      headers and all (~3 KB), and so did websockets' parser, in its generator's frame (another
      ~3 KB): the parser is started afresh past the handshake, as websockets itself swaps it;
    - what the app is to receive waits in an `Inbox`, and sends wait on a `Flag`, not an
      asyncio.Queue (three deques and an Event) and an Event (a deque): ~4 KB less a socket."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox()  # type: ignore[assignment]
        self.writable = Flag()  # type: ignore[assignment]
        self.writable.set()  # as uvicorn's starts

    async def send(self, message: ASGISendEvent) -> None:
        text: Any = message.get("text") if message["type"] == "websocket.send" else None
        if type(text) is str and message.get("bytes") is None and self._framing_text():
            data = text.encode()
            self.transport.write(_text_head(len(data)) + data)
            return
        await super().send(message)
        if self.handshake_complete and self.response is not None:
            self.request = self.response = None  # type: ignore[assignment]
            conn = self.conn
            if conn.state is State.OPEN and not conn.reader.buffer:  # between frames: nothing half-read
                conn.parser = Protocol.parse(conn)
                next(conn.parser)

    def _framing_text(self) -> bool:
        """Whether a text message may be framed here and written at once, as uvicorn and
        websockets would (the frame made in one step: websockets' Frame and its serializing were
        ~5% of a thousand screens' fan-out): open, room in the buffer, nothing else queued, no
        fragmented message or extension in play. Otherwise uvicorn sends it (or waits, or refuses)."""
        conn = self.conn
        return (
            self.handshake_complete
            and self.response is None  # the handshake is answered and let go
            and self.writable.is_set()
            and not (self.disconnected or self.close_sent or conn.writes or conn.extensions)
            and self.initial_response is None
            and conn.state is State.OPEN
            and not conn.expect_continuation_frame
        )


def _text_head(length: int) -> bytes:
    """A server's (unmasked) final text frame's head, RFC 6455 section 5.2."""
    if length < 126:
        return bytes((0x81, length))
    if length < 65536:
        return struct.pack("!BBH", 0x81, 126, length)
    return struct.pack("!BBQ", 0x81, 127, length)


class _Waiters:
    """Futures of whoever waits, made only when someone does: what Inbox and Flag share."""

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] | None = None

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    async def _sleep(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters = [*(self._waiters or ()), waiter]
        await waiter


class Inbox(_Waiters):
    """What uvicorn's socket asks of its queue: put_nowait, get, empty; any number of getters."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        super().__init__()
        self._items: list[Any] = []

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._wake()

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> Any:
        while not self._items:
            await self._sleep()
        return self._items.pop(0)


class Flag(_Waiters):
    """asyncio.Event's set, clear, is_set and wait, with no deque until someone waits."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        super().__init__()
        self._set = False

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        self._wake()

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        while not self._set:
            await self._sleep()
        return True


@dataclass(frozen=True, slots=True)
class HeadLimits:
    seconds: float  # to send a whole request head, from connecting or from the last response
    max_bytes: int


JOINED_BYTES = 64 * 1024  # a body up to this size is joined to its head; a larger one follows it


class OneWrite:
    """The transport uvicorn's request cycle writes a response to: the head is held until the
    body's first write and leaves with it, one write (one send, one TCP segment) where uvicorn
    made two. A head whose body does not follow at once (a stream) leaves on the loop's next turn."""

    __slots__ = ("fresh", "held", "loop", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self.loop = loop
        self.held: bytes | None = None
        self.fresh = True

    def write(self, data: bytes) -> None:
        if self.fresh:  # the head
            self.fresh = False
            self.held = data
            self.loop.call_soon(self.flush)
            return
        held = self.held
        if held is not None:
            self.held = None
            if len(data) <= JOINED_BYTES:
                data = held + data
            else:  # a large body is not copied to save a send
                self.transport.write(held)
        self.transport.write(data)

    def flush(self) -> None:
        held = self.held
        if held is not None:
            self.held = None
            if not self.transport.is_closing():
                self.transport.write(held)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()


class HeadGuard(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline and a size limit on each request head, and
    the connection limit applied to WebSocket upgrades too.

    The deadline runs from the moment a connection opens or a response completes until the next
    head is complete: idle or trickling a byte at a time, a client gets `seconds` in all. The
    size counts the bytes received while a head is incomplete (a pipelined request's first read
    may go uncounted: the bound is then one read larger)."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        head: HeadLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.head = head
        self.head_bytes = 0
        self.head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_done()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.head_deadline is None:  # a body, or a WebSocket's first frames
            super().data_received(data)
            return
        room = self.head.max_bytes - self.head_bytes
        self.head_bytes += len(data)
        super().data_received(data[: max(room, 0)])
        if len(data) <= room or self.transport.is_closing():
            return
        if self.head_deadline is not None:  # the head did not end within the limit
            self._refuse(431)
        elif self.transport.get_protocol() is self:  # the head ended in time; the rest follows it
            super().data_received(data[room:])

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._await_head()  # a pipelined request (otherwise it is already running)

    def on_headers_complete(self) -> None:
        self._head_done()
        if self.parser.should_upgrade() and self._should_upgrade() and self._full():
            self._refuse(503)  # uvicorn applies limit_concurrency to plain requests only
            return
        before = self.cycle
        super().on_headers_complete()
        if self.cycle is not before:  # a request's cycle: its head and body leave in one write
            self.cycle.transport = OneWrite(self.transport, self.loop)  # type: ignore[assignment]

    def handle_websocket_upgrade(self) -> None:
        if not self.transport.is_closing():  # not refused above
            super().handle_websocket_upgrade()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.cycle.response_complete and not self.transport.is_closing():  # none pipelined
            self._await_head()

    def _await_head(self) -> None:
        if self.head_deadline is None:
            self.head_bytes = 0
            self.head_deadline = self.loop.call_later(self.head.seconds, self._too_slow)

    def _head_done(self) -> None:
        if self.head_deadline is not None:
            self.head_deadline.cancel()
            self.head_deadline = None

    def _too_slow(self) -> None:
        self.head_deadline = None
        self.transport.close()  # as uvicorn's keep-alive timeout does: no answer to half a request

    def _full(self) -> bool:
        limit = self.limit_concurrency
        return limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit)

    def _refuse(self, status: int) -> None:
        self._head_done()
        reason = STATUS_LINE[status].split(b" ", 2)[2].strip()
        headers = b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
        length = b"content-length: %d\r\n\r\n" % len(reason)
        self.transport.write(STATUS_LINE[status] + headers + length + reason)
        self.transport.close()
