"""Dojo's WebSocket door: orderpass dials out to Dojo, keeps one socket open, and answers every
EPOS Data call Dojo sends over it as JSON-RPC, from the same operations table as the REST shim
(server/dojo/operations.py), on the same services. A venue box behind a router, with no public
URL and no certificate, is reachable by Dojo this way.

- **Many calls at once.** Each request runs as its own task, at most `concurrency` at a time
  (the rest wait their turn: a queue, never a drop), and is answered by its `id` whenever it
  finishes. A slow call holds up no other.
- **Frames.** `params` holds the body's fields, the path's values (`orderId`, `lockId`) and
  `headers` (Dojo's requestor headers, camelCase). An answer carries `jsonrpc`, the `id`, the
  `method`, and `result` or `error` (an EPOSError). A frame that is not JSON, names no method we
  serve, or fails validation gets an error answer (with its id where one can be read); the
  socket stays up. So does a call whose body is over REST's limit (`max_body_bytes`): it is
  answered as REST answers it. Only a frame over twice that limit (the hard bound on what one
  frame may hold in memory) ends the socket, closed by the websockets library (1009).
- **Staying connected.** The websockets library pings every `ping_seconds` and drops a socket
  whose pong does not come in time; a lost socket is dialled again with jittered exponential
  backoff (first retry well under a second, capped at 30 s, reset once a socket has stayed up a
  minute). A key Dojo refuses at the handshake (401/403) is logged once, shown as `refused`, and
  retried only at the cap. The key is never logged (server/logs.py redacts it anyway).
- **One socket per venue.** Only the process holding the lease (server/dojo/link.py) dials; the
  others stand by and take over within seconds if it dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import orjson
from opentelemetry.trace import Span, SpanKind, StatusCode
from pydantic_core import from_json, to_json
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from server import spans
from server.actors import Actor
from server.background import Worker
from server.dojo import contract
from server.dojo.connection import LinkState
from server.dojo.link import RENEW, Link
from server.dojo.operations import BY_METHOD, Call, Operation
from server.errors import InvalidRequest, NotFound, OrderpassError, PayloadTooLarge
from server.logs import trace_id
from server.metrics import Metrics
from server.text import NUL_REFUSED, has_nul, shown

if TYPE_CHECKING:  # the services are built before the door, and know nothing of it
    from server.services import Services

log = logging.getLogger("orderpass.dojo.socket")
FIRST_RETRY: Final = 0.25  # seconds, before jitter
LAST_RETRY: Final = 30.0
STABLE: Final = 60.0  # a socket up this long resets the backoff
REQUESTOR: Final = {"waiterId": "waiter-id", "dojoRequestingProduct": "dojo-requesting-product",
                    "deviceId": "device-id", "deviceType": "device-type"}  # fmt: skip


@dataclass
class Backoff:
    """Jittered exponential delays: the first well under a second, doubling up to the cap."""

    attempts: int = 0

    def next(self) -> float:
        delay = min(FIRST_RETRY * 2.0**self.attempts, LAST_RETRY)
        self.attempts += 1
        jitter: float = random.uniform(0.5, 1.0)
        return delay * jitter

    def reset(self) -> None:
        self.attempts = 0


@dataclass
class Counters:
    """What this process's socket did since its last report to the store."""

    calls: int = 0
    reconnects: int = 0
    refused_logged: bool = False
    running: set[asyncio.Task[None]] = field(default_factory=set)


class DojoSocket(Worker):
    name = "orderpass-dojo-socket"

    def __init__(
        self,
        *,
        url: str,
        headers: Mapping[str, str],
        services: Services,
        link: Link,
        metrics: Metrics,
        concurrency: int,
        ping_seconds: float,
        max_body_bytes: int,
    ) -> None:
        self.url = url
        self.headers = dict(headers)
        self.services = services
        self.link = link
        self.metrics = metrics
        self.limit = asyncio.Semaphore(concurrency)
        self.ping_seconds = ping_seconds
        self.max_body_bytes = max_body_bytes
        self.counters = Counters()

    async def run(self, ready: asyncio.Event) -> None:
        ready.set()
        backoff = Backoff()
        try:
            while True:
                if not await self._hold():
                    self.metrics.socket_state.state(LinkState.STANDBY.value)
                    await asyncio.sleep(RENEW)  # standing by: another process holds the socket
                    continue
                delay = await self._session(backoff)
                await asyncio.sleep(delay)
        finally:
            for task in tuple(self.counters.running):  # calls in flight die with the socket
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.shield(self.link.release())

    async def _hold(self) -> bool:
        try:
            return await self.link.hold()
        except OrderpassError as exc:  # the store is away: no socket until it is back
            log.warning("could not take or renew the Dojo socket's lease: %s", exc.message)
            return False

    async def _session(self, backoff: Backoff) -> float:
        """One socket, from dialling to its end; how long to wait before the next."""
        await self._report(LinkState.CONNECTING)
        try:
            async with connect(
                self.url,
                additional_headers=self.headers,
                ping_interval=self.ping_seconds,
                ping_timeout=self.ping_seconds,
                max_size=2 * self.max_body_bytes,  # room for the envelope around a body over the limit
                # No permessage-deflate: an order's frame is a few KB on a link that carries a few
                # calls a second, and deflating each frame both ways cost CPU on every call.
                compression=None,
                open_timeout=10,
                logger=_QUIET,
            ) as ws:
                return await self._connected(ws, backoff)
        except InvalidStatus as refused:
            return await self._refused(refused.response.status_code, backoff)
        except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as lost:
            return await self._lost(lost, backoff)

    async def _connected(self, ws: ClientConnection, backoff: Backoff) -> float:
        self.counters.refused_logged = False
        await self._report(LinkState.CONNECTED)
        log.info("connected to Dojo's WebSocket at %s", self.url)
        loop = asyncio.get_running_loop()
        started = loop.time()
        keeper = asyncio.create_task(self._keep_lease(ws))
        try:
            async for frame in ws:
                self._dispatch(ws, frame)
        except ConnectionClosed:
            pass
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            await self._flush_calls()
        if loop.time() - started > STABLE:
            backoff.reset()
        self.counters.reconnects += 1
        self.metrics.socket_reconnects.inc()
        await self._report(LinkState.RECONNECTING, error=_closed(ws))
        return backoff.next()

    async def _refused(self, status: int, backoff: Backoff) -> float:
        if status in (401, 403):
            if not self.counters.refused_logged:
                log.error("Dojo refused our API key at the WebSocket handshake (HTTP %d): check "
                          "ORDERPASS_DOJO_API_KEY and ORDERPASS_DOJO_SOFTWARE_HOUSE_ID", status)  # fmt: skip
                self.counters.refused_logged = True
            await self._report(LinkState.REFUSED, error=f"handshake refused: HTTP {status}")
            return LAST_RETRY
        return await self._lost(OSError(f"handshake answered HTTP {status}"), backoff)

    async def _lost(self, why: BaseException, backoff: Backoff) -> float:
        reason = f"{type(why).__name__}: {shown(str(why), 120)}"
        log.warning("Dojo's WebSocket is not reachable (%s); trying again", reason)
        await self._report(LinkState.RECONNECTING, error=reason)
        return backoff.next()

    async def _keep_lease(self, ws: ClientConnection) -> None:
        """Renew the lease while connected; a lease lost (the store away too long, another process
        took over) ends this socket, so two never serve one venue."""
        while True:
            await asyncio.sleep(RENEW)
            await self._flush_calls()
            if not await self._hold():
                log.warning("lost the Dojo socket's lease: closing this process's socket")
                await ws.close(1001, "another orderpass process serves Dojo")
                return

    # -- answering calls ----------------------------------------------------------------------

    def _dispatch(self, ws: ClientConnection, frame: str | bytes) -> None:
        task = asyncio.create_task(self._answer(ws, frame))
        self.counters.running.add(task)
        task.add_done_callback(self.counters.running.discard)

    async def _answer(self, ws: ClientConnection, frame: str | bytes) -> None:
        async with self.limit:  # past the bound, calls wait their turn here
            answer = await self.answer(frame)
        with contextlib.suppress(ConnectionClosed):
            await ws.send(orjson.dumps(answer), text=True)  # Dojo's frames are text; no decode to str first
        self.counters.calls += 1

    async def answer(self, frame: str | bytes) -> dict[str, Any]:
        """One frame's answer: the operation's result, or an EPOSError; a span of its own, while
        tracing (Dojo's frames carry no traceparent: each call starts its trace here)."""
        request = _parsed(frame)
        with spans.opened(f"dojo.ws {_method(request)}", kind=SpanKind.SERVER) as span:
            ids = spans.current_ids()
            trace = ids[0] if ids else os.urandom(16).hex()
            token = trace_id.set(trace)
            try:
                return await self._answered(request, frame, trace, span)
            finally:
                trace_id.reset(token)

    async def _answered(
        self, request: dict[str, Any], frame: str | bytes, trace: str, span: Span | None
    ) -> dict[str, Any]:
        try:
            op = _operation(frame, request)
            result = await op.handler(_call(self.services, op, request, limit=self.max_body_bytes))
            self.metrics.socket_calls.labels(op.method, "ok").inc()
            return _answer(request, result=result)
        except OrderpassError as exc:
            status, error_type = contract.status_of(exc)
            self.metrics.socket_calls.labels(_method(request), error_type).inc()
            (log.warning if status >= 500 else log.info)(
                "%s %s: %s", _method(request), error_type, exc.message
            )
            if span is not None:
                span.set_attribute("dojo.error_type", error_type)
            return _answer(request, error=contract.eposerror(error_type, exc.message, trace))
        except Exception:
            log.exception("unexpected error answering %s over Dojo's WebSocket", _method(request))
            self.metrics.socket_calls.labels(_method(request), "UnexpectedError").inc()
            if span is not None:
                span.set_status(StatusCode.ERROR)
            return _answer(request, error=contract.eposerror("UnexpectedError", contract.UNEXPECTED, trace))

    async def _report(self, state: LinkState, *, error: str | None = None) -> None:
        self.metrics.socket_state.state(state.value)
        with contextlib.suppress(OrderpassError):
            await self.link.report(state, error=error)

    async def _flush_calls(self) -> None:
        calls, self.counters.calls = self.counters.calls, 0
        with contextlib.suppress(OrderpassError):
            await self.link.served(calls)


def _parsed(frame: str | bytes) -> dict[str, Any]:
    """The frame as a JSON object, or {} (what can be read of it goes into the answer).

    Read by pydantic-core's parser, the one Dojo's models read a REST body with, and written back
    for the handler by its writer, so `params` reach the models as REST's body does: orjson would
    turn an integer past 64 bits into a float (a different refusal than REST's) and refuse a NaN
    the models read."""
    try:
        request = from_json(frame)
    except ValueError:
        return {}
    return request if isinstance(request, dict) else {}


def _operation(frame: str | bytes, request: Mapping[str, Any]) -> Operation:
    """The operation a JSON-RPC request asks for, or why it cannot be served."""
    if not request:
        raise InvalidRequest("a request is a JSON object: {jsonrpc, id, method, params}")
    if not isinstance(request.get("id"), str):
        raise InvalidRequest("a request needs a string `id`", field="id")
    method = request.get("method")
    op = BY_METHOD.get(method) if isinstance(method, str) else None
    if op is None:
        raise NotFound(f"no method {shown(str(method))}: this POS serves {', '.join(BY_METHOD)}")
    if not isinstance(request.get("params", {}), dict):
        raise InvalidRequest("`params` must be an object", field="params")
    return op


def _call(services: Services, op: Operation, request: Mapping[str, Any], *, limit: int) -> Call:
    """The call as REST would make it: the path values apart, the body (only where the operation
    takes one) held to REST's limit."""
    params = dict(request.get("params") or {})
    headers = params.pop("headers", None)
    path = {name: params.pop(name) for name in op.path_names if name in params}
    body = b"{}" if op.body is None else to_json(params)
    if len(body) > limit:
        raise PayloadTooLarge(f"body of {len(body)} bytes is over the {limit}-byte limit")
    return Call(services, _actor(headers), path, body)


def _actor(headers: Any) -> Actor:
    """Dojo, with the requestor headers Dojo sends in `params.headers` (camelCase over the socket).
    HTTP cannot carry a NUL in a header, so REST never sees one; here it is refused as in a body,
    or SQLite would keep it in the history where PostgreSQL refuses it."""
    given = headers if isinstance(headers, dict) else {}
    sent = {header: str(given[key]) for key, header in REQUESTOR.items() if given.get(key)}
    for key, header in REQUESTOR.items():
        if has_nul(sent.get(header)):
            raise InvalidRequest(NUL_REFUSED, field=f"headers.{key}")
    return Actor.dojo(sent)


def _answer(request: Mapping[str, Any], **outcome: Any) -> dict[str, Any]:
    identity, method = request.get("id"), request.get("method")
    return {
        "jsonrpc": request.get("jsonrpc") if isinstance(request.get("jsonrpc"), str) else "2.0",
        "id": identity if isinstance(identity, str) else "",  # Dojo's schema wants a string
        "method": method[:100] if isinstance(method, str) else "",  # the request's, as asked
        **outcome,
    }


def _method(request: Mapping[str, Any]) -> str:
    """The method, as a metrics label and log word: only ours, everything else `unknown`."""
    method = request.get("method")
    return method if isinstance(method, str) and method in BY_METHOD else "unknown"


def _closed(ws: ClientConnection) -> str:
    code = ws.close_code
    return f"socket closed ({code})" if code is not None else "socket lost"


# The websockets library logs each handshake's headers, our key among them, at DEBUG.
_QUIET = logging.getLogger("orderpass.dojo.socket.wire")
_QUIET.setLevel(logging.INFO)
