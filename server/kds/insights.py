"""The manager's pages on the kitchen display's door: a day's insights (`/kds/insights?day=`),
the same figures as CSV (`/kds/insights.csv?day=`), the fragment a running day's page refetches
when the kitchen's changes say something moved (`/kds/insights/live?day=`), and an order's
history (`/kds/orders/{id}`), where a late ticket leads. Any paired screen may read them (a
viewer's token is enough). Each handler parses, makes one call and renders; the figures are
server/insights, the same ones GraphQL's `insights` answers with."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response

from server.errors import InvalidRequest
from server.insights.charts import charts, minutes
from server.insights.figures import Figures
from server.insights.sheet import sheet
from server.services import Services
from server.staff.screens import forget, screen_of

Endpoint = Callable[[Request], Awaitable[Response]]


class Display(Protocol):
    """What these pages need of the door (server/kds/pages.KitchenDisplay)."""

    def page(
        self, request: Request, name: str, context: dict[str, Any], *, status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response: ...  # fmt: skip

    def pairing(self, request: Request) -> Response: ...


@dataclass(frozen=True)
class InsightsPages:
    display: Display

    def table(self) -> list[tuple[str, Endpoint, str]]:
        return [
            ("/kds/insights", self.insights, "GET"),
            ("/kds/insights.csv", self.csv, "GET"),
            ("/kds/insights/live", self.live, "GET"),
            ("/kds/orders/{order_id}", self.history, "GET"),
        ]

    async def insights(self, request: Request) -> Response:
        screen = await screen_of(request)
        if screen is None:
            return self.display.pairing(request)
        try:
            found = await _services(request).insights.day(_asked(request), by=screen)
        except InvalidRequest as bad:
            return self._bad_day(request, bad)
        context = {"view": "insights", "screen": screen, **_context(found, _services(request))}
        return self.display.page(request, "insights.html", context)

    async def csv(self, request: Request) -> Response:
        screen = await screen_of(request)
        if screen is None:
            return self.display.pairing(request)
        try:
            found = await _services(request).insights.day(_asked(request), by=screen)
        except InvalidRequest as bad:
            return self._bad_day(request, bad)
        attachment = f'attachment; filename="orderpass-insights-{found.day.isoformat()}.csv"'
        headers = {"Content-Disposition": attachment, "Cache-Control": "no-store"}
        return Response(sheet(found), media_type="text/csv; charset=utf-8", headers=headers)

    async def live(self, request: Request) -> Response:
        """The figures again, for a running day's page to put in place of its own."""
        screen = await screen_of(request)
        if screen is None:
            return forget(request, Response(status_code=401))  # insights.js reloads: the pairing form
        found = await _services(request).insights.day(_asked(request), by=screen)
        return self.display.page(request, "_insights.html", _context(found, _services(request)))

    async def history(self, request: Request) -> Response:
        if await screen_of(request) is None:
            return self.display.pairing(request)
        shown = await _services(request).board.history(request.path_params["order_id"])
        return self.display.page(request, "history.html", {"view": "history", "shown": shown})

    def _bad_day(self, request: Request, bad: InvalidRequest) -> Response:
        """A day the page cannot show, said in words, with the day picker to choose another."""
        today = _services(request).insights.today()
        context = {"view": "insights", "error": bad.message, "today": today.isoformat(), "day": today}
        return self.display.page(request, "insights.html", context, status=400)


def _services(request: Request) -> Services:
    services: Services = request.state.services
    return services


def _asked(request: Request) -> str | None:
    return request.query_params.get("day")


def _context(found: Figures, services: Services) -> dict[str, object]:
    today = services.insights.today()
    return {
        "figures": found,
        "charts": charts(found),
        "day": found.day,
        "today": today.isoformat(),
        "previous": (found.day - timedelta(days=1)).isoformat(),
        "next": _next(found.day, today),
        "minutes": minutes,
        "waiting": sum(station.waiting for station in found.stations),
        "zone": ZoneInfo(found.timezone),
        "settings": services.settings,
    }


def _next(day: date, today: date) -> str | None:
    return None if day >= today else (day + timedelta(days=1)).isoformat()
