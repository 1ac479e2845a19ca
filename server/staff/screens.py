"""A paired kitchen screen's cookie: the staff token it holds, for a bounded time, HttpOnly and
SameSite=Strict, Secure when the request came over https (behind a TLS proxy, as a trusted one
says: server/app.py). Set on pairing; cleared on unpairing, and wherever it no longer pairs."""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from server.actors import Actor
from server.staff.tokens import Tokens

COOKIE: Final = "orderpass_kds"
DAY: Final = 24 * 3600


async def screen_of(request: Request) -> Actor | None:
    """Who this screen was paired as, or None (never paired, or its token revoked)."""
    tokens: Tokens = request.state.services.tokens
    return await tokens.authenticate(request.cookies.get(COOKIE))


def remember(request: Request, response: Response, token: str, *, days: int) -> Response:
    secure = request.url.scheme == "https"
    response.set_cookie(
        COOKIE, token, max_age=days * DAY, path="/", httponly=True, samesite="strict", secure=secure
    )
    return response


def forget(request: Request, response: Response, *, always: bool = False) -> Response:
    """Clear the cookie: on unpairing (`always`), and wherever it is presented but no longer
    pairs, so a revoked token does not ride along with every request until it expires."""
    if always or COOKIE in request.cookies:
        secure = request.url.scheme == "https"
        response.delete_cookie(COOKIE, path="/", secure=secure, httponly=True, samesite="strict")
    return response
