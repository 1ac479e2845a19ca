"""A fake of Dojo's EPOS WebSocket endpoint (wss://eu.ws.dojo.tech/epos) on loopback: the POS
dials it, and the test plays Dojo, sending JSON-RPC requests down the socket.

    fake_dojo_ws                      the fixture: a started FakeDojoWs; at teardown it fails the
                                      test if any answer broke Dojo's contract
    .url                              ws://127.0.0.1:<port>/epos
    .api_key, .software_house_id      what the POS must send on the handshake
    FakeDojoWs(refusal_status=403)    for another status on a refused handshake (start()/stop())

    Dojo calling (each waits up to `timeout` for a socket, then for the answers; calls go to the
    newest open socket; a call whose socket ends first raises ConnectionError):
    await fake.call(method, params, id=None)     -> the answer frame, matched by id
    await fake.calls_in_flight([(method, params), ...])
                                                 -> [Exchange(request, response)], all sent before
                                                    any answer is read, in the order answers came
    fake.request(method, params)                 the frame `call` would send, to bend for send_raw
    await fake.send_raw(text)                    anything at all (a malformed frame); what the POS
                                                 sends back lands in `received`
    Dojo misbehaving:
    await fake.drop()                            the socket dies: no close frame (a crash, a cut)
    await fake.hang_up(code=1001, reason=...)    a polite close frame (a deploy)
    await fake.play_dead()                       the socket stays open, the fake reads nothing:
                                                 no pongs, no answers, no close (a peer gone dark)
    fake.refuse_handshakes(status=401)           every handshake refused from now on (a revoked key,
    fake.accept_handshakes()                     Dojo down with 503), until accepted again
    What a test reads:
    fake.handshakes                              every handshake, refused ones too: path, headers
                                                 (lower-case; Authorization masked), status, refusal
    fake.connections, fake.open_connections      sockets accepted so far; sockets served now
    await fake.wait_for_connections(n)           e.g. `await fake.drop(); await fake.wait_for_connections(2, timeout=1)`
    await fake.wait_for_handshakes(n), fake.received, await fake.wait_for_received(n)
    fake.violations, fake.take_violations()      answers that broke the contract (take: and forget them)

The handshake is checked as Dojo documents it: `Authorization: Basic <api key>` with the key as-is
(not base64), a `software-house-id` (its value is recorded, not checked), `reseller-id` optional;
anything else is refused with `refusal_status` before the socket opens, with a reason that never
holds the key. Request frames are `{"jsonrpc": "2.0", "id", "method", "params"}`; `params` gets
the requestor `headers` Dojo always sends (`REQUESTOR`) unless it has its own
(tests/dojo_ws_rules.py). Every frame the POS sends is checked against the AsyncAPI document
(tests/asyncapi_contract.py; skipped where ../shared/dojo is absent), and an answer also against
the request it answers: same `jsonrpc` and `method`, one answer per id, `result` or `error` but
not both. A call whose answer breaks these raises AssertionError, and the break is kept in
`violations`.

The fake runs on its own thread and event loop, like the HTTP fake: a test that blocks its own
loop for a moment does not make Dojo look dead, and its coroutines can be awaited from any loop.
It never pings and never closes a socket on its own, so a socket ends only when a test says so.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import logging
import threading
import time
from collections.abc import Coroutine, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from tests import asyncapi_contract, dojo_ws_rules
from tests.dojo_ws_rules import JSONRPC, PATH, REQUESTOR
from tests.fake_dojo import DEFAULT_KEY, poll

__all__ = ["JSONRPC", "REQUESTOR", "Exchange", "FakeDojoWs", "Handshake", "Received", "fake_dojo_ws"]

DEFAULT_SOFTWARE_HOUSE = "orderpass-test"
_NOT_JSON = object()
T = TypeVar("T")

# websockets writes raw handshake headers, the key among them, to its DEBUG log; never let it.
_LOG = logging.getLogger("tests.fake_dojo_ws")
_LOG.setLevel(logging.INFO)


@dataclass(frozen=True)
class Handshake:
    path: str
    headers: dict[str, str]  # names in lower case; the key in Authorization masked
    status: int  # 101 when the socket opened
    refusal: str | None  # why not, in words that never hold the key
    at: datetime


@dataclass(frozen=True)
class Received:
    text: str
    at: datetime

    def json(self) -> Any:
        return orjson.loads(self.text)


@dataclass(frozen=True)
class Exchange:
    request: dict[str, Any]
    response: dict[str, Any]


@dataclass(frozen=True)
class _Pending:
    request: dict[str, Any]
    socket: ServerConnection
    answer: asyncio.Future[tuple[Exchange, list[str]]]


class FakeDojoWs:
    def __init__(
        self,
        *,
        api_key: str = DEFAULT_KEY,
        software_house_id: str = DEFAULT_SOFTWARE_HOUSE,
        refusal_status: int = 401,
    ) -> None:
        self.api_key = api_key
        self.software_house_id = software_house_id  # the one to configure; presence is what Dojo checks
        self.refusal_status = refusal_status
        self.url = ""
        self._ids = itertools.count(1)
        # Read by tests from their own thread: only under the lock.
        self._lock = threading.Lock()
        self._handshakes: list[Handshake] = []
        self._received: list[Received] = []
        self._violations: list[str] = []
        self._accepted = 0
        self._serving: list[ServerConnection] = []  # newest last: calls go to the newest
        self._refusing: int | None = None
        # Touched only on the fake's own loop.
        self._sockets: set[ServerConnection] = set()  # the dead ones too, aborted at stop
        self._pending: dict[str, _Pending] = {}
        self._answered: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    # -- running ---------------------------------------------------------------------------------

    def start(self) -> str:
        ready: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._thread = threading.Thread(target=asyncio.run, args=(self._run(ready),), daemon=True)
        self._thread.start()
        self.url = f"ws://127.0.0.1:{ready.result(timeout=10)}{PATH}"
        return self.url

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    async def _run(self, ready: concurrent.futures.Future[int]) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        async with serve(
            self._serve_socket,
            "127.0.0.1",
            0,
            process_request=self._handshake,
            ping_interval=None,  # Dojo's keepalive is not what these tests are about
            close_timeout=1,
            logger=_LOG,
        ) as server:
            ready.set_result(server.sockets[0].getsockname()[1])
            await self._stopping.wait()
            for socket in self._sockets:  # no closing handshakes to wait out at teardown
                socket.transport.abort()

    async def _on_loop(self, work: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None, "start() the fake first"
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))

    # -- Dojo calling ----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        id: str | None = None,  # JSON-RPC's name for it
    ) -> dict[str, Any]:
        """The frame `call` sends: `params` with Dojo's requestor `headers` unless it has its own."""
        return dojo_ws_rules.request_frame(method, params or {}, id=id or f"rpc-{next(self._ids)}")

    # `timeout=` rather than asyncio.timeout(): on expiry the failure names what did not come.
    async def call(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        id: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        [exchange] = await self._on_loop(self._exchange([self.request(method, params, id=id)], timeout))
        return exchange.response

    async def calls_in_flight(
        self,
        requests: Iterable[tuple[str, Mapping[str, Any]]],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[Exchange]:
        frames = [self.request(method, params) for method, params in requests]
        return await self._on_loop(self._exchange(frames, timeout))

    async def send_raw(self, text: str | bytes, *, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        async def send() -> None:
            await (await self._socket(timeout)).send(text)

        await self._on_loop(send())

    async def _exchange(self, requests: list[dict[str, Any]], seconds: float) -> list[Exchange]:
        ids = [request["id"] for request in requests]
        if len(set(ids)) < len(ids) or self._pending.keys() & set(ids):
            raise ValueError(f"ids must be unique among the calls in flight: {ids}")
        deadline = asyncio.get_running_loop().time() + seconds
        socket = await self._socket(seconds)
        answers = [self._expect(socket, request) for request in requests]
        try:
            async with asyncio.timeout_at(deadline):
                for request in requests:
                    await socket.send(_frame(request))
                return [_checked(await answer) for answer in asyncio.as_completed(answers)]
        except TimeoutError:
            missing = [key for key in ids if key in self._pending]
            raise TimeoutError(f"the POS did not answer {missing} within {seconds}s") from None
        finally:
            for key, answer in zip(ids, answers, strict=True):
                self._pending.pop(key, None)
                _settle(answer)

    def _expect(
        self, socket: ServerConnection, request: dict[str, Any]
    ) -> asyncio.Future[tuple[Exchange, list[str]]]:
        answer: asyncio.Future[tuple[Exchange, list[str]]] = asyncio.get_running_loop().create_future()
        self._pending[request["id"]] = _Pending(request, socket, answer)
        return answer

    async def _socket(self, seconds: float) -> ServerConnection:
        """The socket calls go to: the newest one served, once the POS has dialed in."""
        deadline = time.monotonic() + seconds
        # A socket the POS has begun to close is still served until its handler ends; skip it.
        while not (open_ := [s for s in self._serving if s.state is State.OPEN]):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the POS did not connect within {seconds}s")
            await asyncio.sleep(0.005)
        return open_[-1]

    # -- Dojo misbehaving ------------------------------------------------------------------------

    async def drop(self, *, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        async def drop() -> None:
            socket = self._retire(await self._socket(timeout))
            socket.transport.abort()
            await socket.wait_closed()

        await self._on_loop(drop())

    async def hang_up(self, code: int = 1001, reason: str = "going away", *, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        async def hang_up() -> None:
            await self._retire(await self._socket(timeout)).close(code, reason)

        await self._on_loop(hang_up())

    async def play_dead(self, *, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Stop reading the socket. Pongs come from the reader, so pings go unanswered; the POS
        sees a silent peer, and calls wait for the next socket."""

        async def play_dead() -> None:
            self._retire(await self._socket(timeout)).transport.pause_reading()

        await self._on_loop(play_dead())

    def refuse_handshakes(self, status: int = 401) -> None:
        with self._lock:
            self._refusing = status

    def accept_handshakes(self) -> None:
        with self._lock:
            self._refusing = None

    def _retire(self, socket: ServerConnection) -> ServerConnection:
        with self._lock:
            if socket in self._serving:
                self._serving.remove(socket)
        return socket

    # -- what a test reads -----------------------------------------------------------------------

    @property
    def handshakes(self) -> list[Handshake]:
        with self._lock:
            return list(self._handshakes)

    @property
    def connections(self) -> int:
        with self._lock:
            return self._accepted

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._serving)

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    @property
    def violations(self) -> list[str]:
        with self._lock:
            return list(self._violations)

    def take_violations(self) -> list[str]:
        """The violations so far, forgotten: for a test that provokes them on purpose."""
        with self._lock:
            taken, self._violations = self._violations, []
            return taken

    async def wait_for_connections(self, count: int, timeout: float = 5.0) -> int:  # noqa: ASYNC109
        return len(await poll(lambda: [None] * self.connections, count, timeout, "connections"))

    async def wait_for_handshakes(self, count: int, timeout: float = 5.0) -> list[Handshake]:  # noqa: ASYNC109
        return await poll(lambda: self.handshakes, count, timeout, "handshakes")

    async def wait_for_received(self, count: int, timeout: float = 5.0) -> list[Received]:  # noqa: ASYNC109
        return await poll(lambda: self.received, count, timeout, "frames from the POS")

    # -- the socket --------------------------------------------------------------------------------

    def _handshake(self, socket: ServerConnection, request: Request) -> Response | None:
        headers = {name.lower(): value for name, value in request.headers.raw_items()}
        verdict = self._verdict(request.path, headers)
        status, refusal = verdict if verdict else (101, None)
        handshake = Handshake(request.path, dojo_ws_rules.masked(headers), status, refusal, datetime.now(UTC))
        with self._lock:
            self._handshakes.append(handshake)
        return None if verdict is None else socket.respond(status, f"{refusal}\n")

    def _verdict(self, path: str, headers: Mapping[str, str]) -> tuple[int, str] | None:
        if urlsplit(path).path != PATH:
            return 404, f"no WebSocket at {path}; Dojo's is {PATH}"
        with self._lock:
            refusing = self._refusing
        if refusing is not None:
            return refusing, "refusing every handshake, as the test asked"
        refusal = dojo_ws_rules.refusal(headers, self.api_key)
        return None if refusal is None else (self.refusal_status, refusal)

    async def _serve_socket(self, socket: ServerConnection) -> None:
        self._sockets.add(socket)
        with self._lock:
            self._accepted += 1
            self._serving.append(socket)
        try:
            async for message in socket:
                self._receive(message)
        except ConnectionClosed:
            pass  # dropped: by a test, or by the POS; either way there is nothing more to read
        finally:
            self._forget(socket)

    def _forget(self, socket: ServerConnection) -> None:
        self._retire(socket)
        self._sockets.discard(socket)
        for key, pending in list(self._pending.items()):
            if pending.socket is socket and not pending.answer.done():
                pending.answer.set_exception(
                    ConnectionError(f"the socket closed before the POS answered {key}")
                )

    def _receive(self, message: str | bytes) -> None:
        text = message if isinstance(message, str) else message.decode(errors="replace")
        with self._lock:
            self._received.append(Received(text, datetime.now(UTC)))
        frame = _parse(text)
        key = frame.get("id") if isinstance(frame, dict) else None
        pending = self._pending.pop(key, None) if isinstance(key, str) else None
        problems = self._problems(message, frame, pending)
        if problems:
            where = f"{pending.request['method']} {key}" if pending else f"an answer to {key!r}"
            with self._lock:
                self._violations.extend(f"{where}: {problem}" for problem in problems)
        if pending is not None:
            self._answered.add(pending.request["id"])
            if not pending.answer.done():
                pending.answer.set_result((Exchange(pending.request, frame), problems))

    def _problems(self, message: str | bytes, frame: Any, pending: _Pending | None) -> list[str]:
        request = pending.request if pending else None
        problems = [] if isinstance(message, str) else ["a binary frame; Dojo's frames are text"]
        problems += dojo_ws_rules.answer_problems(frame, request)
        key = frame.get("id") if isinstance(frame, dict) else None
        if pending is None and isinstance(key, str) and key in self._answered:
            problems.append("a second answer to the same id")
        contract = asyncapi_contract.load()
        if contract is not None and isinstance(frame, dict):
            problems += contract.answer_errors(request["method"] if request else None, frame)
        return problems


def _settle(answer: asyncio.Future[Any]) -> None:
    """An answer nobody will await: cancelled, or its exception marked as seen, so that
    asyncio does not log it as never retrieved."""
    if not answer.done():
        answer.cancel()
    elif not answer.cancelled():
        answer.exception()


def _checked(answer: tuple[Exchange, list[str]]) -> Exchange:
    exchange, problems = answer
    if problems:
        request = exchange.request
        raise AssertionError(
            f"the answer to {request['method']} {request['id']} breaks Dojo's contract:\n"
            + "\n".join(problems)
            + f"\n{orjson.dumps(exchange.response).decode()}"
        )
    return exchange


def _frame(request: dict[str, Any]) -> str:
    """A request as text; Dojo's own JSON may hold what orjson will not write (an integer past 64 bits)."""
    try:
        return orjson.dumps(request).decode()
    except TypeError:
        return json.dumps(request, ensure_ascii=False)


def _parse(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return _NOT_JSON


@pytest.fixture(name="fake_dojo_ws")  # named, so that it still registers if imported under an alias
def fake_dojo_ws() -> Iterator[FakeDojoWs]:
    fake = FakeDojoWs()
    fake.start()
    yield fake
    fake.stop()
    assert fake.violations == [], "answers broke Dojo's WebSocket contract:\n" + "\n".join(fake.violations)
