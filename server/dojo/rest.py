"""The Dojo EPOS Data REST shim: every operation of the one table (server/dojo/operations.py)
as a route under /v1, behind Dojo's HTTP Basic credentials. Every error leaves through
`refusal` as an `EPOSError` with the right status.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Mount, Route
from starlette.types import Receive, Scope, Send

from server.actors import Actor
from server.bodies import read_body
from server.dojo import contract
from server.dojo.operations import OPERATIONS, Call, Operation
from server.errors import OrderpassError, Unauthorized, Unavailable

log = logging.getLogger("orderpass.dojo")

# An answer as it goes on the wire: status, headers, body.
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
# An operation's endpoint: the request's scope and body stream in, Dojo's JSON out.
Endpoint = Callable[[Scope, Receive], Awaitable[bytes]]


def mount(*, username: str, password: str, max_body_bytes: int) -> Mount:
    """Dojo's routes under /v1, from the one operations table, as an app of their own."""
    return Mount("/v1", app=DojoDoor(username=username, password=password, max_body_bytes=max_body_bytes))


class DojoDoor:
    """Dojo's routes as one ASGI app: the credentials, the route, the body, the operation, its
    answer, and every refusal (ours, an unknown path, a wrong method) as Dojo's `EPOSError`.

    Starlette's app inside the mount did the same through a second middleware stack, a Request, a
    Response and three wrappers round `send`: a third of CreateOrder's HTTP time went there
    (bench/RESULTS.md). The routes are still Starlette's: they match (path values, HEAD with GET)
    and list the door for /openapi.json and the entry-point tests. A bug raises on to the app's
    Tracing, which logs it with its traceback and answers Dojo's 500 (server/app.py)."""

    def __init__(self, *, username: str, password: str, max_body_bytes: int) -> None:
        self.routes = [
            Route(op.path, endpoint(op, limit=max_body_bytes), methods=[op.http]) for op in OPERATIONS
        ]
        self.credentials = BasicAuth(username=username, password=password)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # a WebSocket: Dojo's socket is one orderpass dials, not one it takes
            await send({"type": "websocket.close", "code": 1000})
            return
        try:
            status, headers, body = await self.answer(scope, receive)
        except (OrderpassError, HTTPException) as exc:
            status, headers, body = refusal(exc, scope.get("state", {}).get("trace_id", "-"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def answer(self, scope: Scope, receive: Receive) -> Answer:
        if not self.credentials.authorized(scope):
            raise Unauthorized("missing or wrong Dojo credentials")
        partial: list[Route] = []  # the routes whose path this is, for other methods
        for route in self.routes:
            match, found = route.matches(scope)
            if match is Match.FULL:
                scope["route"] = route
                scope.update(found)
                body = await found["endpoint"](scope, receive)
                return 200, _headers(body), body
            if match is Match.PARTIAL:
                partial.append(route)
        if partial:
            scope["route"] = partial[0]  # the span's name (server/logs.py), as Starlette's router did
            allowed = sorted({method for route in partial for method in route.methods or ()})
            raise HTTPException(405, headers={"Allow": ", ".join(allowed)})
        raise HTTPException(404)


# The capability each REST endpoint serves, for the metrics' labels.
CAPABILITY_OF: Final[dict[Endpoint, str]] = {}


def endpoint(op: Operation, *, limit: int) -> Endpoint:
    """An operation as a REST endpoint: the body (at most `limit` bytes) and path values in, Dojo's
    JSON out."""

    async def answer(scope: Scope, receive: Receive) -> bytes:
        services = scope["state"]["services"]
        declared = _header_values(scope).get("content-length")
        body = await read_body(receive, limit=limit, declared=declared) if op.body else b"{}"
        call = Call(services, Actor.dojo(_header_values(scope)), scope["path_params"], body)
        return contract.dumps(await op.handler(call))

    answer.__name__ = op.handler.__name__
    CAPABILITY_OF[answer] = op.capabilities[0].split(":")[0]
    return answer


def _header_values(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name, the first of a repeated one (as Starlette's);
    made once a request and kept on its scope: the credentials, the body's declared length and
    the requestor headers each read them."""
    found = scope.get("dojo.headers")
    if found is None:
        found = {k.decode("latin-1"): v.decode("latin-1") for k, v in reversed(scope["headers"])}
        scope["dojo.headers"] = found
    return found


def _headers(body: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]


class BasicAuth:
    """HTTP Basic against the one configured pair, compared in constant time."""

    def __init__(self, *, username: str, password: str) -> None:
        self.expected = (username.encode(), password.encode())

    def authorized(self, scope: Scope) -> bool:
        header = _header_values(scope).get("authorization", "").encode("latin-1")
        scheme, _, encoded = header.partition(b" ")
        try:
            username, _, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
        except (binascii.Error, ValueError):
            username = password = b""
        same_user = hmac.compare_digest(username, self.expected[0])
        same_password = hmac.compare_digest(password, self.expected[1])
        return scheme.lower() == b"basic" and same_user and same_password


# -- errors -------------------------------------------------------------------------------------


def refusal(exc: OrderpassError | HTTPException, trace: str) -> Answer:
    """The one translation of our error tree (and an unknown path or method) into `EPOSError`."""
    if isinstance(exc, HTTPException):
        error_type = "NotFound" if exc.status_code == 404 else "InvalidRequest"
        body = contract.dumps(contract.eposerror(error_type, str(exc.detail), trace))
        given = [(name.lower().encode(), value.encode()) for name, value in (exc.headers or {}).items()]
        return exc.status_code, _headers(body) + given, body
    status, error_type = contract.status_of(exc)
    body = contract.dumps(contract.eposerror(error_type, exc.message, trace))
    headers = _headers(body)
    if isinstance(exc, Unauthorized):
        headers.append((b"www-authenticate", b'Basic realm="orderpass", charset="UTF-8"'))
    if isinstance(exc, Unavailable):
        headers.append((b"retry-after", str(exc.retry_after_seconds).encode()))
        log.warning("%s %s: %s", status, error_type, exc.message)
    else:
        log.info("%s %s: %s", status, error_type, exc.message)  # a client error: one line, no traceback
    return status, headers, body


async def error_response(request: Request, exc: Exception) -> Response:
    """`refusal` for a /v1 path the mount never saw (the app's own handler, server/app.py)."""
    assert isinstance(exc, OrderpassError | HTTPException)
    status, headers, body = refusal(exc, request.scope.get("state", {}).get("trace_id", "-"))
    return Response(body, status_code=status, headers={k.decode(): v.decode() for k, v in headers})


async def unexpected(trace: str) -> Answer:
    body = contract.dumps(contract.eposerror("UnexpectedError", contract.UNEXPECTED, trace))
    return 500, _headers(body), body
