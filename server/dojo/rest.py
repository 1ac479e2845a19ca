"""The Dojo EPOS Data REST shim: every operation of the one table (server/dojo/operations.py)
as a route under /v1, behind Dojo's HTTP Basic credentials. Every error leaves through
`error_response` as an `EPOSError` with the right status.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from server.actors import Actor
from server.dojo import contract
from server.dojo.operations import OPERATIONS, Call, Operation
from server.errors import OrderpassError, PayloadTooLarge, Unauthorized, Unavailable

log = logging.getLogger("orderpass.dojo")
M = TypeVar("M", bound=BaseModel)


def mount(*, username: str, password: str) -> Mount:
    """Dojo's routes under /v1, from the one operations table, as an app of their own: behind
    Basic auth, and with every error (ours, and Starlette's own 404/405) answered as Dojo's
    EPOSError, here and nowhere else."""
    routes = [Route(op.path, endpoint(op), methods=[op.http]) for op in OPERATIONS]
    guard = Middleware(BasicAuth, username=username, password=password)
    handlers = {OrderpassError: error_response, HTTPException: error_response, Exception: _bug}
    return Mount("/v1", app=Starlette(routes=routes, middleware=[guard], exception_handlers=handlers))


# The capability each REST endpoint serves, for the metrics' labels.
CAPABILITY_OF: Final[dict[Callable[[Request], Awaitable[Response]], str]] = {}


def endpoint(op: Operation) -> Callable[[Request], Awaitable[Response]]:
    """An operation as a REST endpoint: the body (bounded) and path values in, Dojo's JSON out."""
    limit = None if op.body is None else "max_body_bytes"

    async def answer(request: Request) -> Response:
        services = request.state.services
        body = await read_body(request, limit=services.settings.max_body_bytes) if limit else b"{}"
        call = Call(services, Actor.dojo(request.headers), request.path_params, body)
        return render(await op.handler(call))

    answer.__name__ = op.handler.__name__
    CAPABILITY_OF[answer] = op.capabilities[0].split(":")[0]
    return answer


async def read_body(request: Request, *, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes is over the {limit}-byte limit")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def render(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(contract.dumps(body), status_code=status, headers=headers, media_type="application/json")


class BasicAuth:
    """HTTP Basic against the one configured pair, compared in constant time."""

    def __init__(self, app: ASGIApp, *, username: str, password: str) -> None:
        self.app = app
        self.expected = (username.encode(), password.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.authorized(scope):
            refused = Unauthorized("missing or wrong Dojo credentials")
            await (await error_response(Request(scope), refused))(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def authorized(self, scope: Scope) -> bool:
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, encoded = header.partition(b" ")
        try:
            username, _, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
        except (binascii.Error, ValueError):
            username = password = b""
        same_user = hmac.compare_digest(username, self.expected[0])
        same_password = hmac.compare_digest(password, self.expected[1])
        return scheme.lower() == b"basic" and same_user and same_password


# -- errors -------------------------------------------------------------------------------------


async def error_response(request: Request, exc: Exception) -> Response:
    """The one translation of our error tree (and Starlette's own 404/405) into `EPOSError`."""
    trace = request.scope.get("state", {}).get("trace_id", "-")
    if isinstance(exc, HTTPException):
        error_type = "NotFound" if exc.status_code == 404 else "InvalidRequest"
        return render(contract.eposerror(error_type, str(exc.detail), trace), exc.status_code)
    assert isinstance(exc, OrderpassError)
    status, error_type = contract.status_of(exc)
    headers = {}
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = 'Basic realm="orderpass", charset="UTF-8"'
    if isinstance(exc, Unavailable):
        headers["Retry-After"] = str(exc.retry_after_seconds)
        log.warning("%s %s: %s", status, error_type, exc.message)
    else:
        log.info("%s %s: %s", status, error_type, exc.message)  # a client error: one line, no traceback
    return render(contract.eposerror(error_type, exc.message, trace), status, headers)


async def _bug(request: Request, exc: Exception) -> Response:
    """A bug's 500 as an EPOSError without its stack trace (the middleware logs it, with the traceback)."""
    trace = request.scope.get("state", {}).get("trace_id", "-")
    return render(contract.eposerror("UnexpectedError", contract.UNEXPECTED, trace), 500)


async def unexpected(trace: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    body = contract.dumps(contract.eposerror("UnexpectedError", contract.UNEXPECTED, trace))
    return 500, [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())], body
