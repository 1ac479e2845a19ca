"""Logging as JSON lines, each carrying the traceId of the request it belongs to, and the one
middleware that gives every request its traceId, its span (while tracing), its access line and a
last-resort 500. The traceId is the OpenTelemetry trace id: the request span's while tracing,
else the caller's `traceparent`'s, else a fresh one of the same shape (32 hex digits).

No line may carry a secret, at any level: libraries log request headers at DEBUG (uvicorn's
WebSocket handshake prints `authorization` and `cookie`), so every line is redacted as it is
formatted, by pattern (bearer and Basic credentials, our token format, the screen cookie,
`token=` in a query) and by value (the configured Dojo password and API key).
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Final

from opentelemetry.trace import Span, SpanKind, StatusCode
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.orjson import OrjsonFormatter
from starlette.requests import ClientDisconnect
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server import spans

trace_id: contextvars.ContextVar[str] = contextvars.ContextVar("trace_id", default="-")
access = logging.getLogger("orderpass.access")
errors = logging.getLogger("orderpass.errors")
_RENAMED = {"levelname": "level", "name": "logger", "message": "msg", "exc_info": "exception"}
REDACTED = "[redacted]"
_SECRET_SHAPES = re.compile(
    r"(?i)(?P<header>\b(?:proxy-)?(?:authorization|cookie|set-cookie)\b[\"']?\s*[:=]\s*)[^\n\"]+"
    r"|(?P<scheme>\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{6,}"
    r"|(?P<param>[?&;\s](?:token|password|api_?key)=)[^&\s\"']+"
    r"|(?P<cookie>\borderpass_kds=)[^;\s\"']+"
    r"|(?P<token>\bopt_)[A-Za-z0-9_-]{8,}"
)


class Redactor:
    """Takes every secret out of a piece of text: known shapes, and the configured values."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self.values = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self.values:
            text = text.replace(value, REDACTED)
        if not _may_hold_a_shape(text):
            return text
        return _SECRET_SHAPES.sub(_keep_label, text)


# Every shape above begins with one of these words: a line naming none of them (an access line,
# most lines) skips the pattern, which took ~50 us a line, more than formatting it. The
# comparison is as case-blind as the pattern's (?i): Python's IGNORECASE also takes these four
# non-ASCII letters for ASCII ones.
_TRIGGERS: Final = ("authorization", "cookie", "bearer", "basic", "token", "password", "api_key", "apikey",
                    "orderpass_kds=", "opt_")  # fmt: skip
_LIKE_ASCII: Final = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def _may_hold_a_shape(text: str) -> bool:
    folded = (text if text.isascii() else text.translate(_LIKE_ASCII)).lower()
    return any(trigger in folded for trigger in _TRIGGERS)


def _keep_label(found: re.Match[str]) -> str:
    label = next(group for group in found.groups() if group is not None)
    return label + REDACTED


class JsonFormatter(OrjsonFormatter):
    """One JSON line per event (python-json-logger, on orjson): `ts`, `level`, `logger`, `msg`,
    `traceId` (and `spanId` while tracing), whatever the call gave as `extra`, and `exception`
    with its traceback; the whole line redacted after it is written, so no field escapes."""

    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__(
            ["levelname", "name", "message"],
            rename_fields=_RENAMED,
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],  # uvicorn's coloured copy of msg
        )
        self.redact = redact or Redactor()

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message: dict[str, Any]
    ) -> None:
        log_data["ts"] = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        super().add_fields(log_data, record, message)
        ids = spans.current_ids()  # the span's, while tracing; a traceId given as extra wins
        log_data.setdefault("traceId", ids[0] if ids else trace_id.get())
        if ids is not None:
            log_data.setdefault("spanId", ids[1])

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


def configure(level: str, *, secrets: Iterable[str | None] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(Redactor(secrets)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # our access line carries the traceId


CLIENT_LEFT: Final = 499  # the access line's and the metrics' status for a request its client left (nginx's)
Fallback = Callable[[Scope, str], Awaitable[tuple[int, list[tuple[bytes, bytes]], bytes]]]


class Tracing:
    """Gives each HTTP request a traceId, logs one access line, and turns an unhandled
    exception into the door's 500 body (logged once, with its traceback and the same id). A
    request whose client left before its body was whole (starlette's ClientDisconnect, from any
    door's body reader) is no bug: its access line and metrics say 499, and nothing is answered.

    Requests `routine` says a screen makes by the hundred (a kitchen display fetches a ticket
    and its panels after every change) are logged at DEBUG when they succeed, so a busy
    kitchen does not bury everything else in the terminal; their failures stay at INFO."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        fallback: Fallback,
        observe: Callable[[Scope, int, float], None] | None = None,
        routine: Callable[[str], bool] | None = None,
    ) -> None:
        self.app = app
        self.fallback = fallback
        self.observe = observe
        self.routine = routine or (lambda path: False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not spans.tracing():  # the path every request takes with tracing off: no span, no context
            await self._answer(scope, receive, send, spans.trace_id_of(scope["headers"]))
            return
        parent = spans.remote(scope["headers"])
        with spans.opened(scope["method"], kind=SpanKind.SERVER, parent=parent) as span:
            ids = spans.current_ids()
            status = await self._answer(scope, receive, send, ids[0] if ids else spans.trace_id_of([]))
            if span is not None:
                _describe(span, scope, status)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, current: str) -> int:
        """Run the request under its traceId, and log its access line; the status it was answered with."""
        token = trace_id.set(current)
        scope.setdefault("state", {})["trace_id"] = current
        started, status = time.perf_counter(), 500
        response_started = False

        async def tracked(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except ClientDisconnect:  # it left before its body was whole: nobody to answer, nothing wrong
            status = CLIENT_LEFT
        except Exception:
            errors.exception("unhandled error in %s %s", scope["method"], scope["path"])
            if not response_started:
                status, headers, body = await self.fallback(scope, current)
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
        finally:
            seconds = time.perf_counter() - started
            if self.observe is not None:
                self.observe(scope, status, seconds)
            level = logging.DEBUG if status < 400 and self.routine(scope["path"]) else logging.INFO
            if access.isEnabledFor(level):  # else the line is not even built
                _log_access(scope, status, seconds, current, level=level)
            trace_id.reset(token)
        return status


def _log_access(scope: Scope, status: int, seconds: float, current: str, *, level: int) -> None:
    access.log(
        level,
        "%s %s %s",
        scope["method"],
        scope["path"],
        status,
        extra={
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "ms": round(seconds * 1000, 2),
            "traceId": current,
        },
    )


def _describe(span: Span, scope: Scope, status: int) -> None:
    """Name the request's span by the route it matched (`POST /v1/orders/{order_id}`), never by
    its path (ids in it), and never with its query (a screen's pairing link carries a token)."""
    route = scope.get("route")  # a Mount when nothing inside it matched: no route, then
    template = (
        None if route is None or isinstance(route, Mount) else f"{scope.get('root_path', '')}{route.path}"
    )
    span.update_name(f"{scope['method']} {template}" if template else scope["method"])
    span.set_attributes({"http.request.method": scope["method"], "url.path": scope["path"],
                         "http.response.status_code": status})  # fmt: skip
    if template:
        span.set_attribute("http.route", template)
    if status >= 500:
        span.set_status(StatusCode.ERROR)
