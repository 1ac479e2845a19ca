"""The kitchen display's door: pairing a screen, the boards, and the fragments a board fetches
when the orderChanges subscription says something changed. Every ticket, on the first page and
in every live update, is the one partial `_ticket.html`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from server.actors import Actor
from server.errors import NotFound
from server.kitchen import Stage, Ticket, all_day, stage_of, ticket
from server.lifecycle import RECALL
from server.order import Order
from server.orders import Orders
from server.roles import GRANTS, Permission, Role
from server.settings import Settings
from server.tokens import Tokens

COOKIE: Final = "orderpass_kds"
YEAR: Final = 365 * 24 * 3600
ROOT: Final = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class KitchenDisplay:
    settings: Settings
    templates: Jinja2Templates

    @classmethod
    def create(cls, settings: Settings) -> KitchenDisplay:
        return cls(settings, Jinja2Templates(directory=ROOT / "kds_templates"))

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/kds", self.board, methods=["GET"]),
            Route("/kds/ready", self.ready_board, methods=["GET"]),
            Route("/kds/login", self.login_page, methods=["GET"]),
            Route("/kds/login", self.login, methods=["POST"]),
            Route("/kds/logout", self.logout, methods=["POST"]),
            Route("/kds/tickets/{order_id}", self.ticket_fragment, methods=["GET"]),
            Route("/kds/allday", self.allday_fragment, methods=["GET"]),
            Route("/kds/recall", self.recall_fragment, methods=["GET"]),
            Mount("/static", StaticFiles(directory=ROOT / "static"), name="static"),
        ]

    # -- pages ----------------------------------------------------------------------------------

    async def board(self, request: Request, *, view: str = "board", stage: Stage | None = None) -> Response:
        if "token" in request.query_params:
            return await self._pair(
                request, request.query_params["token"], request.url.remove_query_params("token")
            )
        screen = await _screen(request)
        if screen is None:
            return self._page(request, "login.html", {"error": None, "next": str(request.url)})
        stage = stage or stage_of(request.query_params.get("stage"))
        sequence = await _orders(request).last_sequence()  # first: live updates resume from here
        tickets = await self._tickets(request, [o for o in await _orders(request).active() if stage.shows(o)])
        context = {
            "view": view,
            "stage": stage,
            "sequence": sequence,
            "tickets": tickets,
            "can_bump": Permission.MOVE in GRANTS[screen.role or Role.VIEWER],
            "screen": screen,
            "settings": self.settings,
        }
        return self._page(request, f"{view}.html", context)

    async def ready_board(self, request: Request) -> Response:
        return await self.board(request, view="ready", stage=stage_of("ready"))

    async def login_page(self, request: Request) -> Response:
        return self._page(
            request, "login.html", {"error": None, "next": request.query_params.get("next", "/kds")}
        )

    async def login(self, request: Request) -> Response:
        form = await request.form()
        destination = str(form.get("next") or "/kds")
        return await self._pair(
            request, str(form.get("token", "")), URL(destination if destination.startswith("/") else "/kds")
        )

    async def logout(self, request: Request) -> Response:
        response = RedirectResponse("/kds/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # -- fragments ------------------------------------------------------------------------------

    async def ticket_fragment(self, request: Request) -> Response:
        if await _screen(request) is None:
            return Response(status_code=401)
        stage = stage_of(request.query_params.get("stage"))
        try:
            order = await _orders(request).get(request.path_params["order_id"])
        except NotFound:
            return Response(status_code=204, headers=_stamp())
        (found,) = await self._tickets(request, [order])
        partial = "_ready_ticket.html" if stage.name == "ready" else "_ticket.html"
        # The board keeps a ticket on this stage, removes it otherwise (a canceled one after its banner).
        on_stage = {"X-On-Stage": "1" if stage.shows(order) else "0"}
        return self._page(request, partial, {"ticket": found, "can_bump": True}, headers=on_stage)

    async def allday_fragment(self, request: Request) -> Response:
        if await _screen(request) is None:
            return Response(status_code=401)
        stage = stage_of(request.query_params.get("stage"))
        counts = all_day(o for o in await _orders(request).active() if stage.shows(o))
        return self._page(request, "_allday.html", {"counts": counts})

    async def recall_fragment(self, request: Request) -> Response:
        if await _screen(request) is None:
            return Response(status_code=401)
        stage = stage_of(request.query_params.get("stage"))
        window = timedelta(minutes=self.settings.kds_recall_minutes)
        bumped = await _orders(request).recently_bumped(window=window, limit=self.settings.kds_recall_limit)
        recallable = [o for o in bumped if RECALL[o.status] in stage.statuses]
        return self._page(request, "_recall.html", {"tickets": await self._tickets(request, recallable)})

    # -- helpers --------------------------------------------------------------------------------

    async def _pair(self, request: Request, token: str, destination: URL) -> Response:
        tokens: Tokens = request.state.tokens
        if await tokens.authenticate(token) is None:
            context = {"error": "That token is not valid (or was revoked).", "next": str(destination)}
            return self._page(request, "login.html", context, status=401)
        response = RedirectResponse(str(destination), status_code=303)
        secure = request.url.scheme == "https"
        response.set_cookie(
            COOKIE, token, max_age=YEAR, path="/", httponly=True, samesite="strict", secure=secure
        )
        return response

    async def _tickets(self, request: Request, orders: list[Order]) -> list[Ticket]:
        histories = await _orders(request).histories([o.id for o in orders])
        zone = ZoneInfo(self.settings.timezone)
        return [ticket(o, product=_product(histories.get(o.id, [])), timezone=zone) for o in orders]

    def _page(
        self, request: Request, name: str, context: dict[str, Any], *, status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response:  # fmt: skip
        stamp = _stamp()
        headers = {**stamp, "Cache-Control": "no-store", **(headers or {})}
        context = {**context, "now_ms": stamp["X-Server-Time"]}
        return self.templates.TemplateResponse(request, name, context, status_code=status, headers=headers)


def _stamp() -> dict[str, str]:
    """The server's clock, so a screen times tickets by it rather than by its own."""
    return {"X-Server-Time": str(int(time.time() * 1000))}


async def _screen(request: Request) -> Actor | None:
    tokens: Tokens = request.state.tokens
    return await tokens.authenticate(request.cookies.get(COOKIE))


def _orders(request: Request) -> Orders:
    orders: Orders = request.state.orders
    return orders


def _product(history: list[Any]) -> str | None:
    return next((entry.actor.requesting_product for entry in history if entry.actor.requesting_product), None)
