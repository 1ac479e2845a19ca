"""A TCP relay on loopback that a test can cut (every connection dropped, new ones refused) and
restore: a database going away and coming back, without touching the real one. It can also cut
at an exact point of a conversation: at the first chunk carrying some bytes, which it swallows.

It runs on its own thread and event loop, so it keeps relaying while the test's loop is blocked
(starting a server, say), and its methods are plain calls from any thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, Self

CHUNK = 65536


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0  # chosen when it first listens, and kept across cuts
        self.tripped = False  # whether the armed cut (`cut_at`) happened
        self._trip: tuple[bytes, bool, bytes | None] | None = None  # (marker, from the server?, after)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)
        self._listener: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._relays: set[asyncio.Task[None]] = set()

    def __enter__(self) -> Self:
        self._thread.start()
        self.restore()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def cut(self) -> None:
        """Stop listening (a connect is refused) and drop every open connection."""
        self._call(self._cut())

    def restore(self) -> None:
        """Listen again, on the same port."""
        self._call(self._listen())

    def cut_at(self, marker: bytes, *, from_server: bool, after: bytes | None = None) -> None:
        """Cut when a chunk carrying `marker` passes, in one direction, before passing it on: from
        the client, the server never reads it; from the server, the client never hears it. With
        `after`, only on a connection whose client has sent `after` (so that a server's
        background work on its other connections cannot trip it first)."""
        self.tripped = False
        self._call(self._arm((marker, from_server, after)))

    def _call(self, work: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=10)

    async def _arm(self, trip: tuple[bytes, bool, bytes | None]) -> None:
        self._trip = trip

    async def _listen(self) -> None:
        if self._listener is None:
            self._listener = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
            self.port = self._listener.sockets[0].getsockname()[1]

    async def _cut(self) -> None:
        listener = self._listener
        self._drop()
        if self._relays:
            await asyncio.wait(self._relays)
        if listener is not None:
            await listener.wait_closed()

    def _drop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for writer in self._writers:
            writer.transport.abort()  # no goodbye: each side sees its connection die

    async def _accept(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        relay = asyncio.current_task()
        assert relay is not None
        self._relays.add(relay)
        self._writers.add(client_out)
        try:
            upstream_in, upstream_out = await asyncio.open_connection(*self.target)
        except OSError:
            upstream_out = None
        try:
            if upstream_out is not None and self._listener is not None:  # not cut meanwhile
                self._writers.add(upstream_out)
                await self._relay(client_in, client_out, upstream_in, upstream_out)
        finally:
            for writer in (client_out, upstream_out):
                if writer is not None:
                    writer.transport.abort()
                    self._writers.discard(writer)
            self._relays.discard(relay)

    async def _relay(
        self,
        client_in: asyncio.StreamReader,
        client_out: asyncio.StreamWriter,
        upstream_in: asyncio.StreamReader,
        upstream_out: asyncio.StreamWriter,
    ) -> None:
        """Both ways, until either side goes away; then the other goes too (no half-open links)."""
        sent: list[bytes] = []  # what this connection's client has sent that an armed `after` names
        pipes = {
            asyncio.create_task(self._pipe(client_in, upstream_out, from_server=False, sent=sent)),
            asyncio.create_task(self._pipe(upstream_in, client_out, from_server=True, sent=sent)),
        }
        await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        client_out.transport.abort()
        upstream_out.transport.abort()
        await asyncio.wait(pipes)

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        *,
        from_server: bool,
        sent: list[bytes],
    ) -> None:
        with contextlib.suppress(ConnectionError):
            while (data := await source.read(CHUNK)) and not sink.is_closing():
                trip = self._trip
                if trip and not from_server and trip[2] is not None and trip[2] in data:
                    sent.append(trip[2])
                if (
                    trip
                    and trip[1] == from_server
                    and trip[0] in data
                    and (trip[2] is None or trip[2] in sent)
                ):
                    self._trip, self.tripped = None, True
                    self._drop()
                    return
                sink.write(data)
                await sink.drain()
