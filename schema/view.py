"""The GraphQL door: HTTP and WebSocket on /graphql, behind staff bearer tokens.

Authentication is decided once, here, on the request as it arrives, before GraphQL reads
anything from it:
- HTTP takes `Authorization: Bearer <token>` (or a paired kitchen screen's cookie, from our own
  pages) on every request, whatever it asks and however it spells it: 401 without a valid one.
  GraphiQL is a page of its own at /graphiql that executes nothing; a browser that opens
  /graphql without a token is sent there. A body over `max_body_bytes` is refused with 413.
- A WebSocket takes the same header on the upgrade, or `{"authorization": "Bearer <token>"}`
  in `connection_init`; without a valid token the socket is closed with 4401. Every operation
  on it re-checks the token, and a socket whose token is revoked or expires is closed with
  4401 within seconds (server/staff/sessions.py). Frames are bounded (1009 past the limit, far
  smaller before authentication), and so are the operations one socket may run at once.
  A frame that is not a graphql-transport-ws message closes it with 4400.
The server pings every socket, so a screen can tell a live connection from a dead one.
Behind all this, schema/access.py refuses any operation that reaches GraphQL without an actor.
Past the gate, HTTP answers in the media type the Accept header asks for, with the status codes
GraphQL over HTTP gives it (schema/over_http.py); whatever the door refuses itself (a body it
cannot read, a mutation over GET) is a GraphQL response with `errors` in that media type too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final, NoReturn

import orjson
from cross_web import HTTPException
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection, Request, cookie_parser
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws import types as wire
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler

from schema.access import REFUSED
from schema.context import Context
from schema.over_http import GraphQLOverHTTP, problem
from schema.sending import Frames, Watchdog
from server.actors import Actor
from server.bodies import read_body
from server.errors import PayloadTooLarge
from server.origins import same_origin
from server.services import Services
from server.staff.screens import COOKIE as SCREEN_COOKIE
from server.staff.sessions import Session, Sessions
from server.staff.tokens import bearer

SOCKET: Final = "orderpass.socket"
GRAPHIQL: Final = "/graphiql"
UNAUTHENTICATED_FRAME_BYTES: Final = 16 * 1024  # connection_init with GraphiQL's headers fits easily
log = logging.getLogger("orderpass.graphql")


@dataclass(eq=False, slots=True)
class SocketState:
    """What the gate learned at the upgrade, and what the handler learns at connection_init."""

    sessions: Sessions
    credential: str | None  # the token the upgrade carried, if it was valid
    actor: Actor | None
    frame_limit: int


class TokenGate:
    """Authenticates every request once, before GraphQL sees it (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services: Services = scope["state"]["services"]
        tokens = services.tokens
        headers = Headers(scope=scope)
        credential = bearer(headers.get("authorization")) or _screen_cookie(scope, headers)
        actor = await tokens.authenticate(credential)
        if scope["type"] == "websocket":
            state = SocketState(
                services.sessions, credential if actor else None, actor, UNAUTHENTICATED_FRAME_BYTES
            )
            scope[SOCKET] = state
            await self.app(scope, _bounded_frames(receive, send, state), send)
            return
        if actor is None:
            await _refuse(scope, headers)(scope, receive, send)
            return
        try:
            body = await read_body(receive, limit=self.max_body_bytes, declared=headers.get("content-length"))
        except PayloadTooLarge:
            message = f"the request body is over the {self.max_body_bytes}-byte limit"
            await problem(413, message, "TOO_LARGE")(scope, receive, send)
            return
        scope["orderpass.actor"] = actor
        await self.app(scope, _replay(body, receive), send)


def _refuse(scope: Scope, headers: Headers) -> Response:
    if scope["method"] == "GET" and "text/html" in headers.get("accept", ""):
        return RedirectResponse(GRAPHIQL, status_code=303)  # a person in a browser: the IDE page
    return problem(401, REFUSED, "UNAUTHORIZED", {"WWW-Authenticate": "Bearer"})


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()  # after the body: only a disconnect can come
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def _bounded_frames(receive: Receive, send: Send, state: SocketState) -> Receive:
    """A frame over the socket's limit closes it (1009, message too big) before anything parses it."""

    async def bounded() -> Message:
        message = await receive()
        if message["type"] == "websocket.receive":
            frame = message.get("text") or message.get("bytes") or ""
            if len(frame) > state.frame_limit:
                log.warning("closed a WebSocket that sent a frame over %d bytes", state.frame_limit)
                await send({"type": "websocket.close", "code": 1009, "reason": "frame too large"})
                return {"type": "websocket.disconnect", "code": 1009}
        return message

    return bounded


def _screen_cookie(scope: Scope, headers: Headers) -> str | None:
    """A paired kitchen screen's token, from its cookie; only for requests from our own pages
    (SameSite=Strict keeps it off cross-site requests; a browser's WebSocket always says where
    it came from, and that must be us: scheme, host and port)."""
    if "origin" in headers and not same_origin(HTTPConnection(scope)):
        return None
    return cookie_parser(headers.get("cookie", "")).get(SCREEN_COOKIE)


class StaffTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, with the token checked at connection_init and before every
    operation, sockets closed when their token stops holding, and server pings."""

    pinger: asyncio.TimerHandle | None = None  # a timer between pings, not a task (~1.5 KB a screen)
    ping: asyncio.Task[None] | None = None  # the one being sent
    session: Session | None = None
    credential: str | None = None
    watchdog: Watchdog | None = None  # made by the first send

    @property
    def door(self) -> GraphQLDoor:
        assert isinstance(self.view, GraphQLDoor)
        return self.view

    @property
    def state(self) -> SocketState:
        found: SocketState = self.websocket.ws.scope[SOCKET]  # type: ignore[attr-defined]
        return found

    async def handle_message(self, message: wire.Message) -> None:
        problem = _malformed(message)
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: wire.ConnectionInitMessage) -> None:
        state, tokens = self.state, self.context.services.tokens
        self.credential = state.credential or bearer(_authorization(message))
        actor = state.actor or await tokens.authenticate(self.credential)
        if actor is None or self.credential is None:
            log.warning("refused a GraphQL WebSocket without a valid staff token", extra=_peer(self))
            await self.websocket.close(code=4401, reason="Unauthorized")
            return
        self.context.actor = state.actor = actor
        state.frame_limit = self.door.max_frame_bytes
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self.pinger is None:
            self.session = self.state.sessions.open(self.credential, self._token_ended)
            self._ping_later()

    async def handle_subscribe(self, message: Any) -> None:
        if self.connection_acknowledged:  # every operation re-checks who is asking
            actor = await self.context.services.tokens.authenticate(self.credential)
            if actor is None:
                await self._token_ended()
                return
            self.context.actor = actor
        await super().handle_subscribe(message)

    async def _token_ended(self) -> None:
        log.warning("closed a GraphQL WebSocket whose staff token was revoked or expired", extra=_peer(self))
        with contextlib.suppress(Exception):
            await self.websocket.close(code=4401, reason="token revoked or expired")

    async def send_message(self, message: Any) -> None:
        """A screen that stops reading (a frozen tablet) fills its socket, and every send to it
        would wait forever: past the view's send timeout the socket is closed (1013, try again
        later). Nothing is lost: the screen resumes from the last sequence it applied. One
        watchdog per socket times its sends (schema/sending.py)."""
        watchdog = self.watchdog
        if watchdog is None:
            watchdog = self.watchdog = Watchdog(self.door.send_timeout)
        task = watchdog.began()
        try:
            await super().send_message(message)
        except asyncio.CancelledError:
            if not watchdog.ended(task, cancelled=True):
                raise
            await self._not_reading()
        finally:
            watchdog.ended(task)

    async def _not_reading(self) -> NoReturn:
        log.warning("closed a WebSocket that stopped reading; its screen will resume from its cursor")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.websocket.close(code=1013, reason="not reading; reconnect"), 1.0)
        raise WebSocketDisconnected from None

    def _ping_later(self) -> None:
        self.pinger = asyncio.get_running_loop().call_later(self.door.ping_seconds, self._ping)

    def _ping(self) -> None:
        self.ping = asyncio.create_task(self._send_ping())

    async def _send_ping(self) -> None:
        with contextlib.suppress(Exception):  # a socket that cannot take a ping is pinged no more
            await self.send_message({"type": "ping"})
            self._ping_later()

    async def shutdown(self) -> None:
        if self.session is not None:
            self.state.sessions.end(self.session)
        if self.pinger is not None:
            self.pinger.cancel()
        if self.watchdog is not None:
            self.watchdog.stop()
        if self.ping is not None:
            self.ping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.ping
        await super().shutdown()


def _malformed(message: object) -> str | None:
    """Why a decoded frame is not a graphql-transport-ws message, or None if it is one."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return "a message must be a JSON object with a string `type`"
    identified = message["type"] in {"subscribe", "complete", "next", "error"}
    if identified and not (isinstance(message.get("id"), str) and 0 < len(message["id"]) <= 100):
        return "a message of this type needs a string `id` of 1 to 100 characters"
    if message["type"] == "subscribe":
        payload = message.get("payload")
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return "subscribe needs a `payload` object with a string `query`"
        if not isinstance(payload.get("variables") or {}, dict):
            return "subscribe's `variables` must be an object"
        if not isinstance(payload.get("operationName") or "", str):
            return "subscribe's `operationName` must be a string"
    return None


def _authorization(message: wire.ConnectionInitMessage) -> str | None:
    """`authorization` from connection_init's payload, whatever its case (GraphiQL sends the
    headers editor's `Authorization` there)."""
    payload: Any = message.get("payload")
    if not isinstance(payload, dict):
        return None
    found = {str(key).lower(): value for key, value in payload.items()}.get("authorization")
    return found if isinstance(found, str) else None


def _peer(handler: StaffTransportWS) -> dict[str, str]:
    client = handler.websocket.ws.scope.get("client")  # type: ignore[attr-defined]
    return {"client": f"{client[0]}:{client[1]}" if client else "-"}


class GraphQLDoor(GraphQLOverHTTP):
    graphql_transport_ws_handler_class = StaffTransportWS

    def __init__(
        self,
        schema: Any,
        *,
        ping_seconds: float,
        send_timeout: float,
        max_frame_bytes: int,
        max_operations: int,
    ) -> None:
        # Only graphql-transport-ws: its connection_init is where the token is checked. No IDE
        # here: GraphiQL is its own page (/graphiql) and this route only executes.
        super().__init__(
            schema,
            graphql_ide=None,
            connection_init_wait_timeout=timedelta(seconds=10),
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            max_subscriptions_per_connection=max_operations,
        )
        self.ping_seconds = ping_seconds
        self.send_timeout = send_timeout
        self.max_frame_bytes = max_frame_bytes
        self.frames = Frames()

    def decode_json(self, data: str | bytes) -> object:
        """orjson refuses bytes that are not UTF-8 and lone surrogates (a JSONDecodeError, so 400
        over HTTP and 4400 over a WebSocket). An HTTP body must be an operation (or a batch). A NUL,
        however it is spelled, is refused on the decoded operation (schema/text.py), alike over
        HTTP and WebSocket."""
        parsed = orjson.loads(data)
        if isinstance(data, bytes) and not isinstance(parsed, dict | list):  # an HTTP body
            raise HTTPException(400, "the body must be a JSON object: {query, variables, operationName}")
        return parsed

    def encode_json(self, data: object) -> str:
        """orjson: several times faster than json; and a result every screen of one shape is sent
        is encoded once, not once per screen (schema/sending.py)."""
        return self.frames.encode(data)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        return Context(
            services=request.state.services,
            actor=request.scope.get("orderpass.actor"),  # HTTP: the gate's; a socket's: at connection_init
            over_socket=isinstance(request, WebSocket),
        )


def graphql_app(
    schema: Any,
    *,
    ping_seconds: float,
    send_timeout: float,
    max_body_bytes: int,
    max_operations: int,
) -> ASGIApp:
    door = GraphQLDoor(
        schema,
        ping_seconds=ping_seconds,
        send_timeout=send_timeout,
        max_frame_bytes=max_body_bytes,
        max_operations=max_operations,
    )
    return TokenGate(door, max_body_bytes=max_body_bytes)
