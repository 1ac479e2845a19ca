"""What the kitchen display's door asks of every request before a handler sees it: a request
that changes something (pairing, unpairing: any method but GET and HEAD) must come from one of
our own pages. The door wraps each of its routes in this one guard."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from server.origins import own_origin, same_origin

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
log = logging.getLogger("orderpass.kds")


class Guard:
    def __init__(self, app: ASGIApp, *, refuse: Callable[[Request], Response]) -> None:
        self.app = app
        self.refuse = refuse  # the door's readable 403 page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            request = Request(scope, receive)
            if not same_origin(request):
                _log_refusal(request)
                await self.refuse(request)(scope, receive, send)
                return
        await self.app(scope, receive, send)


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
