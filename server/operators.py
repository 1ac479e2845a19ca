"""What operators call: liveness, readiness (which dependency is not ready), Prometheus metrics
(for a staff token of any role) and the OpenAPI description of the Dojo contract we implement.
Trouble here answers in plain JSON, not as Dojo's EPOSError: these are not Dojo's routes."""

from __future__ import annotations

import orjson
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import readiness
from server.dojo import openapi
from server.errors import OrderpassError, Unavailable
from server.ordering.model import PAUSABLE
from server.services import Services
from server.staff.tokens import bearer


def routes() -> list[Route]:
    return [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/openapi.json", openapi_document),
        Route("/metrics", metrics_page),
    ]


async def healthz(request: Request) -> Response:
    return _json({"status": "alive"})


async def readyz(request: Request) -> Response:
    """Each dependency's state (server/readiness.py); 503 naming what is not ready."""
    found = await readiness.check(_services(request))
    if found.ready:
        return _json({"status": "ready", "checks": found.states})
    trace = request.scope.get("state", {}).get("trace_id", "-")
    body = {"status": "unavailable", "message": "; ".join(found.problems), "checks": found.states}
    return _json(body | {"traceId": trace}, 503, {"Retry-After": str(Unavailable.retry_after_seconds)})


async def metrics_page(request: Request) -> Response:
    """For a scraper holding a staff token (any role): the figures say how trade is going."""
    services = _services(request)
    if await services.tokens.authenticate(bearer(request.headers.get("authorization"))) is None:
        body = b"a staff bearer token is required (any role)\n"
        return Response(body, 401, {"WWW-Authenticate": "Bearer"}, "text/plain")
    orders = services.orders
    owed = await orders.owed_to_dojo()
    now = services.clock.now()
    oldest = (now - owed.oldest).total_seconds() if owed.oldest else 0
    paused = {pause.product for pause in (await services.ordering.current()).in_force(now)}
    snapshot = {
        "orderpass_orders": {status.value: n for status, n in (await orders.status_counts()).items()},
        "orderpass_subscribers": services.feed.subscriber_count,
        "orderpass_dojo_outbox_owed": owed.owed,
        "orderpass_dojo_outbox_failing": owed.failing,
        "orderpass_dojo_outbox_oldest_seconds": oldest,
        "orderpass_unmatched_payments": await services.cashier.unmatched_count(),
        "orderpass_ordering_paused": {product.name: int(product in paused) for product in PAUSABLE},
    }
    return Response(services.metrics.render(snapshot), media_type=CONTENT_TYPE_LATEST)


async def openapi_document(request: Request) -> Response:
    return _json(openapi.document())


async def problem(request: Request, exc: Exception) -> Response:
    """The app's own answer to an error outside every door: plain JSON with the traceId."""
    trace = request.scope.get("state", {}).get("trace_id", "-")
    status = getattr(exc, "status_code", 503 if isinstance(exc, Unavailable) else 400)
    message = exc.message if isinstance(exc, OrderpassError) else str(getattr(exc, "detail", "error"))
    # Starlette's own headers kept: a 405's Allow names the methods that would have been answered.
    return _json({"error": message, "traceId": trace}, status, getattr(exc, "headers", None))


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, "application/json")


def _services(request: Request) -> Services:
    services: Services = request.state.services
    return services
