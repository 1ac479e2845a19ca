"""The kitchen display's door, guarded in one place: a request that changes something (pairing,
unpairing: any method but GET and HEAD) must come from one of our own pages, and every answer,
page, fragment, refusal or static file, tells the browser what it may do with it. The door wraps
each of its routes in this guard (server/kds/pages.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.origins import own_origin, same_origin

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
# Our pages load only our own script, style and sockets ('self' covers ws:/wss: to this host in
# Chromium, checked by tests/test_kds_security_browser.py); nothing may frame them (a bump button
# under another site's overlay), and a form may post only to us.
CSP: Final = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # the page's empty favicon
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ]
)
HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: under it a browser posts our own forms with `Origin: null`, which the Origin
    # check must refuse. same-origin also sends nothing to another site.
    "Referrer-Policy": "same-origin",
}
log = logging.getLogger("orderpass.kds")


class Guard:
    def __init__(self, app: ASGIApp, *, refuse: Callable[[Request], Response]) -> None:
        self.app = app
        self.refuse = refuse  # the door's readable 403 page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_headers(send)
        if scope["method"] not in SAFE_METHODS:
            request = Request(scope, receive)
            if not same_origin(request):
                _log_refusal(request)
                await self.refuse(request)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _with_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in HEADERS.items():
                headers.setdefault(name, value)
        await send(message)

    return sending


def _log_refusal(request: Request) -> None:
    """Behind a TLS proxy that is not trusted our own pages look cross-site (https vs http): the
    log line shows both, so an operator can tell an attack from a missing ORDERPASS_TRUSTED_PROXIES."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    log.warning(
        "refused a cross-site %s %s from %r (this site is %r)",
        request.method,
        request.url.path,
        claimed,
        own_origin(request),
    )
