"""The kitchen display's door: pairing a screen, the boards, and the fragments a board fetches
when the orderChanges subscription says something changed. Every ticket, on the first page and
in every live update, is the one partial `_ticket.html` (`_station_ticket.html` on a station's
screen, `?station=grill`, where a cook bumps single items or the station's whole part)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from server.actors import Actor
from server.errors import InvalidRequest, NotFound, OrderpassError
from server.kds.guard import Guard
from server.kds.tickets import STAGES, Stage, Ticket, stage_of, station_names, station_stage, ticket
from server.lifecycle import RECALL
from server.orders.model import Order
from server.orders.service import Orders
from server.origins import local_destination, navigated_from_elsewhere
from server.settings import Settings
from server.staff.roles import Permission
from server.staff.screens import COOKIE as COOKIE  # where schema/view.py and the tests look for it
from server.staff.screens import forget, remember, screen_of
from server.staff.tokens import Tokens
from server.stations.prep import Prep
from server.stations.routing import Routing, Station

ROOT: Final = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class KitchenDisplay:
    settings: Settings
    templates: Jinja2Templates

    @classmethod
    def create(cls, settings: Settings) -> KitchenDisplay:
        return cls(settings, Jinja2Templates(directory=ROOT / "kds_templates"))

    def routes(self) -> list[BaseRoute]:
        """Every route of the door, each behind the one guard (server/kds/guard.py)."""
        guard = [Middleware(Guard, refuse=self.refused)]
        table: list[tuple[str, Callable[[Request], Awaitable[Response]], str]] = [
            ("/kds", self.board, "GET"),
            ("/kds/ready", self.ready_board, "GET"),
            ("/kds/login", self.login_page, "GET"),
            ("/kds/login", self.login, "POST"),
            ("/kds/logout", self.logout, "POST"),
            ("/kds/tickets/{order_id}", self.ticket_fragment, "GET"),
            ("/kds/allday", self.allday_fragment, "GET"),
            ("/kds/recall", self.recall_fragment, "GET"),
            ("/kds/count", self.count_fragment, "GET"),
            ("/kds/{path:path}", self.nowhere, "GET"),  # last: a page, not the app's JSON 404
        ]
        routes: list[BaseRoute] = [
            Route(path, endpoint, methods=[method], middleware=guard) for path, endpoint, method in table
        ]
        static = StaticFiles(directory=ROOT / "static")
        return [*routes, Mount("/static", static, name="static", middleware=guard)]

    # -- pages ----------------------------------------------------------------------------------

    async def board(self, request: Request, *, view: str = "board", stage: Stage | None = None) -> Response:
        if "token" in request.query_params:
            if navigated_from_elsewhere(request):  # a link on another site must not re-pair a screen
                return self.refused(request)
            return await self._pair(request, request.query_params["token"], _here(request))
        screen = await screen_of(request)
        if screen is None:  # never paired, or its token revoked: the form, to land back here
            context = {"error": None, "next": _here(request)}
            return forget(request, self._page(request, "login.html", context))
        routing = await _prep(request).routing()
        try:
            stage = stage or _stage(request, routing)
        except (NotFound, InvalidRequest) as missing:
            return self._missing(request, missing.message, routing.stations, status=_status(missing))
        context = await self._board(request, screen, stage=stage, routing=routing)
        return self._page(request, f"{view}.html", {**context, "view": view})

    async def ready_board(self, request: Request) -> Response:
        return await self.board(request, view="ready", stage=stage_of("ready"))

    async def login_page(self, request: Request) -> Response:
        destination = local_destination(request.query_params.get("next"))
        return self._page(request, "login.html", {"error": None, "next": destination})

    async def login(self, request: Request) -> Response:
        form = await request.form()
        return await self._pair(request, str(form.get("token", "")), str(form.get("next") or ""))

    async def logout(self, request: Request) -> Response:
        return forget(request, RedirectResponse("/kds/login", status_code=303), always=True)

    async def nowhere(self, request: Request) -> Response:
        if request.url.path == "/kds/":  # as the router would have, before this route caught it
            return RedirectResponse(_here(request).replace("/kds/", "/kds", 1), status_code=307)
        paired = await screen_of(request) is not None
        stations = (await _prep(request).routing()).stations if paired else ()  # for staff only
        return self._missing(request, f"there is no page at {request.url.path}", stations, status=404)

    # -- fragments ------------------------------------------------------------------------------

    async def ticket_fragment(self, request: Request) -> Response:
        screen = await screen_of(request)
        if screen is None:
            return _unpaired(request)
        routing = await _prep(request).routing()
        stage = _stage(request, routing)  # no such station: 404, through the app's error handler
        try:
            order = await _orders(request).get(request.path_params["order_id"])
        except NotFound:
            return Response(status_code=204, headers=_stamp())
        (found,) = await self._tickets(request, [order], stage=stage, routing=routing)
        # The board keeps a ticket on this stage, removes it otherwise (a canceled one after its banner).
        on_stage = {"X-On-Stage": "1" if stage.shows(order) else "0"}
        context = {"ticket": found, "can_bump": _can_bump(screen), "stage": stage}
        return self._page(request, _partial(stage), context, headers=on_stage)

    async def allday_fragment(self, request: Request) -> Response:
        if await screen_of(request) is None:
            return _unpaired(request)
        stage = _stage(request, await _prep(request).routing())
        active = await _orders(request).active(stage, limit=self.settings.kds_board_limit)
        return self._page(request, "_allday.html", {"counts": stage.all_day(active.orders)})

    async def count_fragment(self, request: Request) -> Response:
        """The banner of how many of a screen's open orders it does not show; the board says how
        many it does (`shown`), after live updates have added and removed tickets."""
        if await screen_of(request) is None:
            return _unpaired(request)
        stage = _stage(request, await _prep(request).routing())
        total = await _orders(request).active_count(stage)
        shown = request.query_params.get("shown", "0")
        more = total - (int(shown) if shown.isdigit() else 0)
        return self._page(request, "_more.html", {"more": max(more, 0)})

    async def recall_fragment(self, request: Request) -> Response:
        screen = await screen_of(request)
        if screen is None:
            return _unpaired(request)
        routing = await _prep(request).routing()
        stage = _stage(request, routing)
        window = timedelta(minutes=self.settings.kds_recall_minutes)
        limit = self.settings.kds_recall_limit
        if stage.station is not None:  # what this station bumped last, for it to bring back
            recallable = await _prep(request).recently_done(stage.station, window=window, limit=limit)
        else:
            bumped = await _orders(request).recently_bumped(window=window, limit=limit)
            recallable = [o for o in bumped if RECALL[o.status] in stage.statuses]
        tickets = await self._tickets(request, recallable, stage=stage, routing=routing)
        context = {"tickets": tickets, "stage": stage, "can_bump": _can_bump(screen)}
        return self._page(request, "_recall.html", context)

    def refused(self, request: Request) -> Response:
        """A request from another site (server/kds/guard.py): a page a person can read, not JSON."""
        return self._page(request, "refused.html", {}, status=403)

    async def _board(
        self, request: Request, screen: Actor, *, stage: Stage, routing: Routing
    ) -> dict[str, Any]:
        sequence = await _orders(request).last_sequence()  # first: live updates resume from here
        active = await _orders(request).active(stage, limit=self.settings.kds_board_limit)
        shown = [o for o in active.orders if stage.shows(o)]
        return {
            "stage": stage,
            "stages": STAGES.values(),
            "stations": sorted(routing.stations, key=lambda station: (station.position, station.id)),
            "sequence": sequence,
            "tickets": await self._tickets(request, shown, stage=stage, routing=routing),
            "more": active.total - len(shown),  # past the limit: said, never silently left out
            "can_bump": _can_bump(screen),
            "screen": screen,
            "settings": self.settings,
        }

    def _missing(
        self, request: Request, message: str, stations: tuple[Station, ...], *, status: int
    ) -> Response:
        return self._page(request, "missing.html", {"message": message, "stations": stations}, status=status)

    # -- helpers --------------------------------------------------------------------------------

    async def _pair(self, request: Request, token: str, destination: str) -> Response:
        """Pair this screen and send it on, only ever to one of our own screens."""
        destination = local_destination(destination)
        tokens: Tokens = request.state.tokens
        if await tokens.authenticate(token) is None:
            context = {"error": "That token is not valid (or was revoked).", "next": destination}
            return self._page(request, "login.html", context, status=401)
        response = RedirectResponse(destination, status_code=303)
        return remember(request, response, token, days=self.settings.kds_cookie_days)

    async def _tickets(
        self, request: Request, orders: list[Order], *, stage: Stage, routing: Routing
    ) -> list[Ticket]:
        zone = ZoneInfo(self.settings.timezone)
        names = station_names(routing)
        return [ticket(o, timezone=zone, stage=stage, stations=names) for o in orders]

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


def _here(request: Request) -> str:
    """This screen's own address, relative and without a token: where pairing lands it back."""
    url = request.url.remove_query_params("token")
    return url.path + (f"?{url.query}" if url.query else "")


def _unpaired(request: Request) -> Response:
    """A fragment for a screen that is not (or no longer) paired: kds.js reloads on 401, and the
    page it reloads is the pairing form."""
    return forget(request, Response(status_code=401))


def _status(error: OrderpassError) -> int:
    return 404 if isinstance(error, NotFound) else 400


def _can_bump(screen: Actor) -> bool:
    """Whether a screen is offered bump, recall and item taps: the page, every live fragment and
    the recall list ask here, so a viewer's screen never shows a button the server would refuse."""
    return screen.may(Permission.MOVE)


def _orders(request: Request) -> Orders:
    orders: Orders = request.state.orders
    return orders


def _prep(request: Request) -> Prep:
    prep: Prep = request.state.prep
    return prep


def _stage(request: Request, routing: Routing) -> Stage:
    """`?station=grill` is that station's screen (NotFound if there is none); else `?stage=`."""
    station = request.query_params.get("station")
    if station is not None:
        return station_stage(routing, station)
    return stage_of(request.query_params.get("stage"))


def _partial(stage: Stage) -> str:
    if stage.station is not None:
        return "_station_ticket.html"
    return "_ready_ticket.html" if stage.name == "ready" else "_ticket.html"
