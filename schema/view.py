"""The GraphQL door: HTTP and WebSocket on /graphql, behind staff bearer tokens.

HTTP takes `Authorization: Bearer <token>` (401 without a valid one; the GraphiQL page
itself loads without). A WebSocket takes the same header on the upgrade, or
`{"authorization": "Bearer <token>"}` in `connection_init`; without a valid token the socket
is closed with 4401. The server pings every socket, so a screen can tell a live connection
from a dead one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.datastructures import Headers
from starlette.requests import Request, cookie_parser
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage

from schema.context import Context
from server.kds import COOKIE
from server.text import NUL_REFUSED, holds_nul
from server.tokens import Tokens, bearer

ACTOR = "orderpass.actor"
log = logging.getLogger("orderpass.graphql")


class TokenGate:
    """Authenticates the bearer header once, before GraphQL sees the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tokens: Tokens = scope["state"]["tokens"]
        headers = Headers(scope=scope)
        scope[ACTOR] = await tokens.authenticate(
            bearer(headers.get("authorization")) or _screen_cookie(scope, headers)
        )
        if scope["type"] == "http" and scope[ACTOR] is None and not _graphiql_page(scope, headers):
            body = {
                "errors": [
                    {
                        "message": "a valid staff bearer token is required",
                        "extensions": {"code": "UNAUTHORIZED"},
                    }
                ]
            }
            response = Response(orjson.dumps(body), 401, {"WWW-Authenticate": "Bearer"}, "application/json")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _screen_cookie(scope: Scope, headers: Headers) -> str | None:
    """A paired kitchen screen's token, from its cookie; only for requests from our own pages
    (SameSite=Strict keeps it off cross-site requests; the Origin check covers WebSockets)."""
    origin = headers.get("origin")
    if origin is not None and origin.split("://", 1)[-1] != headers.get("host"):
        return None
    return cookie_parser(headers.get("cookie", "")).get(COOKIE)


def _graphiql_page(scope: Scope, headers: Headers) -> bool:
    return (
        scope["method"] == "GET"
        and "text/html" in headers.get("accept", "")
        and b"query=" not in scope["query_string"]
    )


class TokenCheckedTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, with the token checked at connection_init and server pings."""

    pinger: asyncio.Task[None] | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if self.context.actor is None:
            self.context.actor = await self.context.tokens.authenticate(bearer(_authorization(message)))
        if self.context.actor is None:
            await self.websocket.close(code=4401, reason="Unauthorized")
            return
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self.pinger is None:
            self.pinger = asyncio.create_task(self._ping())

    async def send_message(self, message: Any) -> None:
        """A screen that stops reading (a frozen tablet) fills its socket, and every send to it
        would wait forever: past the view's send timeout the socket is closed (1013, try again
        later). Nothing is lost: the screen resumes from the last sequence it applied."""
        try:
            await asyncio.wait_for(super().send_message(message), getattr(self.view, "send_timeout", 10.0))
        except TimeoutError:
            log.warning("closed a WebSocket that stopped reading; its screen will resume from its cursor")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.websocket.close(code=1013, reason="not reading; reconnect"), 1.0)
            raise WebSocketDisconnected from None

    async def _ping(self) -> None:
        interval = getattr(self.view, "ping_seconds", 5.0)
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(interval)
                await self.send_message({"type": "ping"})

    async def shutdown(self) -> None:
        if self.pinger is not None:
            self.pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.pinger
        await super().shutdown()


def _operations(parsed: dict[str, Any] | list[Any]) -> list[dict[str, Any]]:
    return [op for op in (parsed if isinstance(parsed, list) else [parsed]) if isinstance(op, dict)]


def _authorization(message: ConnectionInitMessage) -> str | None:
    """`authorization` from connection_init's payload, whatever its case (GraphiQL sends the
    headers editor's `Authorization` there)."""
    payload: Any = message.get("payload")
    if not isinstance(payload, dict):
        return None
    found = {str(key).lower(): value for key, value in payload.items()}.get("authorization")
    return found if isinstance(found, str) else None


class GraphQLDoor(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TokenCheckedTransportWS

    def __init__(self, schema: Any, *, ping_seconds: float, send_timeout: float = 10.0) -> None:
        # Only graphql-transport-ws: its connection_init is where the token is checked.
        super().__init__(
            schema,
            connection_init_wait_timeout=timedelta(seconds=10),
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.ping_seconds = ping_seconds
        self.send_timeout = send_timeout

    def decode_json(self, data: str | bytes) -> object:
        """orjson refuses bytes that are not UTF-8 and lone surrogates (a JSONDecodeError, so 400
        over HTTP and 4400 over a WebSocket). An HTTP body must be an operation (or a batch), and
        holds no NUL, in its variables or spelled inside its document."""
        parsed = orjson.loads(data)
        if isinstance(data, bytes):  # an HTTP body; WebSocket frames are text, checked by their protocol
            if not isinstance(parsed, dict | list):
                raise HTTPException(400, "the body must be a JSON object: {query, variables, operationName}")
            if holds_nul(data) or any("\\u0000" in str(op.get("query")) for op in _operations(parsed)):
                raise HTTPException(400, NUL_REFUSED)
        return parsed

    def encode_json(self, data: object) -> str:
        return orjson.dumps(data).decode()  # several times faster than json, for every screen's every change

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        state = request.state
        return Context(
            orders=state.orders,
            cashier=state.cashier,
            tokens=state.tokens,
            feed=state.feed,
            prep=state.prep,
            amendments=state.amendments,
            actor=request.scope.get(ACTOR),
            metrics=state.metrics,
        )


def graphql_app(schema: Any, *, ping_seconds: float, send_timeout: float = 10.0) -> ASGIApp:
    return TokenGate(GraphQLDoor(schema, ping_seconds=ping_seconds, send_timeout=send_timeout))
