"""The kitchen display's door: pairing a screen, the boards, and the fragments a board fetches
when the orderChanges subscription says something changed. Each handler parses, asks the board's
read service (server/kds/board.py) once, and renders. Every ticket, on the first page and in every
live update, is the one partial `_ticket.html` (`_station_ticket.html` on a station's screen,
`?station=grill`, where a cook bumps single items or the station's whole part)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup, escape
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from server.errors import InvalidRequest, NotFound, OrderpassError
from server.kds.board import Board
from server.kds.guard import Guard
from server.kds.insights import Endpoint, InsightsPages
from server.kds.tickets import Said, Ticket
from server.origins import local_destination, navigated_from_elsewhere
from server.services import Services
from server.settings import Settings
from server.staff.screens import forget, remember, screen_of
from server.stages import Stage, stage_of
from server.stations.routing import Station

ROOT: Final = Path(__file__).resolve().parents[2]
# What a board fetches after every change: answered with a status alone when refused.
FRAGMENTS: Final = (
    "/kds/tickets/",
    "/kds/allday",
    "/kds/recall",
    "/kds/count",
    "/kds/scheduled",
    "/kds/pause",
    "/kds/insights/live",
)
# Tickets rendered, remembered by what they say (below): a busy venue's open tickets on each of
# its screens' stages; ~5.5 KB each with its key, ~6 MB at most.
RENDERED: Final = 1024


@dataclass(frozen=True)
class KitchenDisplay:
    settings: Settings
    templates: Jinja2Templates
    # One ticket's HTML (its partial, the ticket, whether the screen may bump, the stage), rendered
    # once for each different ticket: every screen fetches the ticket after every change, most
    # fetches find it as another screen (or this one, before an unrelated change) rendered it,
    # and rendering was the largest part of a fragment (~100 us of ~600, bench/reads.py). The
    # ticket is a frozen value compared field by field, so a changed order is another key.
    ticket_html: Callable[[str, Ticket, bool, Stage], str]

    @classmethod
    def create(cls, settings: Settings) -> KitchenDisplay:
        # Starlette's own environment, without a check of each template file's time on every
        # render (~5% of a ticket fragment, bench/reads.py): the templates change with a release.
        loader = FileSystemLoader(ROOT / "kds_templates")
        env = Environment(loader=loader, autoescape=True, auto_reload=False)
        env.globals["said"] = said

        def render(partial: str, ticket: Ticket, can_bump: bool, stage: Stage) -> str:
            return env.get_template(partial).render(ticket=ticket, can_bump=can_bump, stage=stage)

        return cls(settings, Jinja2Templates(env=env), lru_cache(maxsize=RENDERED)(render))

    @staticmethod
    def routine(path: str) -> bool:
        """What a board fetches by itself, by the hundred on a busy night: its fragments after
        every change, and its own script and style (logged at DEBUG; server/logs.py)."""
        return path.startswith((*FRAGMENTS, "/static/"))

    def routes(self) -> list[BaseRoute]:
        """Every route of the door, each behind the one guard (server/kds/guard.py)."""
        guard = [Middleware(Guard, refuse=self.refused)]
        table: list[tuple[str, Endpoint, str]] = [
            ("/kds", self.board, "GET"),
            ("/kds/ready", self.ready_board, "GET"),
            ("/kds/login", self.login_page, "GET"),
            ("/kds/login", self.login, "POST"),
            ("/kds/logout", self.logout, "POST"),
            ("/kds/tickets/{order_id}", self.ticket_fragment, "GET"),
            ("/kds/allday", self.allday_fragment, "GET"),
            ("/kds/recall", self.recall_fragment, "GET"),
            ("/kds/count", self.count_fragment, "GET"),
            ("/kds/scheduled", self.scheduled_fragment, "GET"),
            ("/kds/pause", self.pause_fragment, "GET"),
            *InsightsPages(self).table(),
            ("/kds/{path:path}", self.nowhere, "GET"),  # last: a page, not the app's JSON 404
        ]
        routes: list[BaseRoute] = [
            Route(path, self._readable(endpoint), methods=[method], middleware=guard)
            for path, endpoint, method in table
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
        if screen is None:
            return self.pairing(request)
        board = _board(request)
        try:
            stage = stage or await _stage(request)
        except (NotFound, InvalidRequest) as missing:
            return self._missing(request, missing.message, await board.stations(), status=_status(missing))
        shown = await board.board(stage, screen)
        page = {**_fields(shown), "view": view, "screen": screen, "settings": self.settings}
        return self.page(request, f"{view}.html", page)

    async def ready_board(self, request: Request) -> Response:
        return await self.board(request, view="ready", stage=stage_of("ready"))

    async def login_page(self, request: Request) -> Response:
        destination = local_destination(request.query_params.get("next"))
        return self.page(request, "login.html", {"error": None, "next": destination})

    async def login(self, request: Request) -> Response:
        form = await request.form()
        return await self._pair(request, str(form.get("token", "")), str(form.get("next") or ""))

    async def logout(self, request: Request) -> Response:
        return forget(request, RedirectResponse("/kds/login", status_code=303), always=True)

    async def nowhere(self, request: Request) -> Response:
        if request.url.path == "/kds/":  # as the router would have, before this route caught it
            return RedirectResponse(_here(request).replace("/kds/", "/kds", 1), status_code=307)
        paired = await screen_of(request) is not None
        stations = await _board(request).stations() if paired else ()  # listed for staff only
        return self._missing(request, f"there is no page at {request.url.path}", stations, status=404)

    # -- fragments ------------------------------------------------------------------------------

    async def ticket_fragment(self, request: Request) -> Response:
        screen = await screen_of(request)
        if screen is None:
            return _unpaired(request)
        stage = await _stage(request)
        shown = await _board(request).ticket(request.path_params["order_id"], stage, screen)
        if shown is None:
            return Response(status_code=204, headers=self._stamp(request))
        html = self.ticket_html(_partial(stage), shown.ticket, shown.can_bump, stage)
        on_stage = {"X-On-Stage": "1" if shown.on_stage else "0"}
        return HTMLResponse(html, headers=self._headers(request, on_stage))

    async def allday_fragment(self, request: Request) -> Response:
        if await screen_of(request) is None:
            return _unpaired(request)
        counts = await _board(request).all_day(await _stage(request))
        return self.page(request, "_allday.html", {"counts": counts})

    async def count_fragment(self, request: Request) -> Response:
        """The banner of how many of a screen's open orders it does not show; the board says how
        many it does (`shown`), after live updates have added and removed tickets."""
        if await screen_of(request) is None:
            return _unpaired(request)
        shown = request.query_params.get("shown", "0")
        more = await _board(request).more(await _stage(request), shown=int(shown) if shown.isdigit() else 0)
        return self.page(request, "_more.html", {"more": more})

    async def scheduled_fragment(self, request: Request) -> Response:
        """The strip of timed orders held off this screen's line until they fire."""
        if await screen_of(request) is None:
            return _unpaired(request)
        scheduled = await _board(request).scheduled(await _stage(request))
        return self.page(request, "_scheduled.html", {"scheduled": scheduled})

    async def pause_fragment(self, request: Request) -> Response:
        """The banner of what is paused, fetched whenever the orderingChanges subscription says
        the pauses changed (and on every reconnect)."""
        screen = await screen_of(request)
        if screen is None:
            return _unpaired(request)
        ordering = await _board(request).ordering(screen)
        customers = request.query_params.get("stage") == "ready"  # the ready board: no names, no buttons
        return self.page(request, "_pause.html", {"ordering": ordering, "controls": not customers})

    async def recall_fragment(self, request: Request) -> Response:
        screen = await screen_of(request)
        if screen is None:
            return _unpaired(request)
        stage = await _stage(request)
        tickets = await _board(request).recall(stage)
        context = {"tickets": tickets, "stage": stage, "can_bump": Board.may_bump(screen)}
        return self.page(request, "_recall.html", context)

    def pairing(self, request: Request) -> Response:
        """A page for a screen never paired, or whose token was revoked: the pairing form, to
        land back here."""
        return forget(request, self.page(request, "login.html", {"error": None, "next": _here(request)}))

    def refused(self, request: Request) -> Response:
        """A request from another site (server/kds/guard.py): a page a person can read, not JSON."""
        return self.page(request, "refused.html", {}, status=403)

    # -- helpers --------------------------------------------------------------------------------

    def _readable(self, endpoint: Endpoint) -> Endpoint:
        """Our errors as a page a cook can read (a fragment's as its status alone), never JSON."""

        async def answered(request: Request) -> Response:
            try:
                return await endpoint(request)
            except OrderpassError as error:
                if request.url.path.startswith(FRAGMENTS):
                    return Response(status_code=_status(error), headers={"X-Problem": error.code})
                return self.page(request, "missing.html", {"message": error.message}, status=_status(error))

        return answered

    def _missing(
        self, request: Request, message: str, stations: tuple[Station, ...], *, status: int
    ) -> Response:
        return self.page(request, "missing.html", {"message": message, "stations": stations}, status=status)

    async def _pair(self, request: Request, token: str, destination: str) -> Response:
        """Pair this screen and send it on, only ever to one of our own screens."""
        destination = local_destination(destination)
        if await _services(request).tokens.authenticate(token) is None:
            context = {"error": "That token is not valid (or was revoked).", "next": destination}
            return self.page(request, "login.html", context, status=401)
        response = RedirectResponse(destination, status_code=303)
        return remember(request, response, token, days=self.settings.kds_cookie_days)

    def page(
        self, request: Request, name: str, context: dict[str, Any], *, status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response:  # fmt: skip
        headers = self._headers(request, headers)
        context = {**context, "now_ms": headers["X-Server-Time"]}
        return self.templates.TemplateResponse(request, name, context, status_code=status, headers=headers)

    def _headers(self, request: Request, more: dict[str, str] | None) -> dict[str, str]:
        """Every page's and fragment's: the server's clock, and never kept by a cache."""
        return {**self._stamp(request), "Cache-Control": "no-store", **(more or {})}

    @staticmethod
    def _stamp(request: Request) -> dict[str, str]:
        """The server's clock, so a screen times tickets by it rather than by its own."""
        return {"X-Server-Time": str(_board(request).now_ms())}


def _services(request: Request) -> Services:
    services: Services = request.state.services
    return services


def _board(request: Request) -> Board:
    return _services(request).board


async def _stage(request: Request) -> Stage:
    params = request.query_params
    return await _board(request).stage(station=params.get("station"), stage=params.get("stage"))


def _fields(view: Any) -> dict[str, object]:
    return {field.name: getattr(view, field.name) for field in fields(view)}


def _here(request: Request) -> str:
    """This screen's own address, relative and without a token: where pairing lands it back."""
    url = request.url.remove_query_params("token")
    return url.path + (f"?{url.query}" if url.query else "")


def _unpaired(request: Request) -> Response:
    """A fragment for a screen that is not (or no longer) paired: kds.js reloads on 401, and the
    page it reloads is the pairing form."""
    return forget(request, Response(status_code=401))


def _status(error: OrderpassError) -> int:
    if isinstance(error, NotFound):
        return 404
    return 503 if error.code == "UNAVAILABLE" else 400


def _partial(stage: Stage) -> str:
    if stage.station is not None:
        return "_station_ticket.html"
    return "_ready_ticket.html" if stage.name == "ready" else "_ticket.html"


def said(part: Said, tag: str, kind: str) -> Markup:
    """A piece of a ticket's text in its own element (kds_templates/_lines.html), marked where it
    names an allergen: `<span class="name allergy" data-allergens="milk">Latte</span>`. The tag
    and class are the template's own words; the text and allergens are escaped."""
    if not part.allergens:
        return Markup(f'<{tag} class="{kind}">{escape(part.text)}</{tag}>')
    named = escape(" ".join(part.allergens))
    return Markup(f'<{tag} class="{kind} allergy" data-allergens="{named}">{escape(part.text)}</{tag}>')
