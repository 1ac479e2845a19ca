"""create_app(settings): the one place that builds engines, brokers and services and wires the doors."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import orjson
from opentelemetry.sdk.trace import TracerProvider
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from schema import build_schema, graphiql
from schema.view import graphql_app
from server import logs, operators, tracing
from server.clock import Clock
from server.dojo import rest
from server.dojo.socket import DojoSocket
from server.errors import OrderpassError
from server.kds.pages import KitchenDisplay
from server.metrics import Metrics
from server.services import Services
from server.settings import Settings
from server.tracing import Traces

log = logging.getLogger("orderpass")


def create_app(
    settings: Settings, *, clock: Clock | None = None, tracer_provider: TracerProvider | None = None
) -> Starlette:
    """`tracer_provider`: where spans go (server/tracing.py); None, tracing is off."""
    metrics = Metrics()
    traced = Traces.of(tracer_provider)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Services]]:
        transport = traced.dojo_transport() if traced else None
        running = Services.running(
            settings,
            clock=clock,
            metrics=metrics,
            dojo_transport=transport,
            instrumented=traced.running if traced else None,
        )
        async with running as services:
            socket = _dojo_socket(services)  # the door orderpass dials itself, where configured
            if socket is not None:
                await socket.start()
            try:
                if settings.tune_gc:
                    _tune_gc()
                yield {"services": services}
            finally:
                if socket is not None:
                    await socket.stop()

    graphql = graphql_app(
        build_schema(tracer=traced.tracer if traced else None),
        ping_seconds=settings.ws_ping_seconds,
        send_timeout=settings.ws_send_timeout_seconds,
        max_body_bytes=settings.max_body_bytes,
        max_operations=settings.ws_max_operations,
    )
    username, password = settings.dojo_credentials()
    doors: dict[str, list[BaseRoute]] = {
        "graphql": [Route("/graphql", graphql, methods=["GET", "POST"]), WebSocketRoute("/graphql", graphql)],
        "kds": KitchenDisplay.create(settings).routes(),
        "graphiql": graphiql.routes(),
    }
    fixed = operators.routes()
    dojo = rest.mount(username=username, password=password, max_body_bytes=settings.max_body_bytes)
    routes = [dojo, *doors["graphql"], *fixed, *doors["kds"]]
    routes += doors["graphiql"]
    labels = {id(route): door for door, found in doors.items() for route in found}
    labels |= {id(route): route.path for route in fixed}
    requests = Middleware(
        logs.Tracing, fallback=_unexpected, observe=_observer(metrics, labels), routine=KitchenDisplay.routine
    )
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[*_behind_proxies(settings), requests],
        exception_handlers={OrderpassError: _problem, HTTPException: _problem},
    )


async def _problem(request: Request, exc: Exception) -> Response:
    """An error no door answered: under /v1 (a path Dojo's mount could not even match) in Dojo's
    words, anywhere else in ours."""
    if request.url.path.startswith("/v1"):
        return await rest.error_response(request, exc)
    return await operators.problem(request, exc)


def _dojo_socket(services: Services) -> DojoSocket | None:
    """Dojo's WebSocket door, where ORDERPASS_DOJO_WS_URL is set (and a key to dial it with)."""
    settings = services.settings
    if settings.dojo_ws_url is None:
        return None
    if settings.dojo_api_key is None or settings.dojo_software_house_id is None:
        log.error("ORDERPASS_DOJO_WS_URL is set, but dialling Dojo needs ORDERPASS_DOJO_API_KEY and "
                  "ORDERPASS_DOJO_SOFTWARE_HOUSE_ID: the WebSocket stays off")  # fmt: skip
        return None
    headers = {
        "Authorization": f"Basic {settings.dojo_api_key}",
        "software-house-id": settings.dojo_software_house_id,
    }
    if settings.dojo_reseller_id:
        headers["reseller-id"] = settings.dojo_reseller_id
    return DojoSocket(
        url=settings.dojo_ws_url,
        headers=headers,
        services=services,
        link=services.link,
        metrics=services.metrics,
        concurrency=settings.dojo_ws_concurrency,
        ping_seconds=settings.dojo_ws_ping_seconds,
        max_body_bytes=settings.max_body_bytes,
    )


async def _unexpected(scope: Any, trace: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """A bug's 500 in the words of the door it reached: Dojo's EPOSError under /v1, else ours."""
    if str(scope.get("path", "")).startswith("/v1"):
        return await rest.unexpected(trace)
    body = orjson.dumps({"error": "an unexpected error occurred; quote the traceId", "traceId": trace})
    return 500, [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())], body


def _behind_proxies(settings: Settings) -> list[Middleware]:
    """Behind a TLS-terminating proxy the request's scheme and client are the proxy's own, unless
    we believe its X-Forwarded-Proto/-For: only from ORDERPASS_TRUSTED_PROXIES, and outermost, so
    the KDS cookie's Secure flag, its Origin check and every log line see the browser's."""
    if not settings.trusted_proxies:
        return []
    return [Middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))]


def _tune_gc() -> None:
    """Every request allocates thousands of short-lived objects; with CPython's default thresholds
    the collector then keeps rescanning everything the app built at startup, which cost a fifth of
    CreateOrder's throughput and doubled its p99 (bench/RESULTS.md). So: everything alive now is
    frozen out of collection, and young objects are collected less often. The older generations
    keep their default ratios: a closed WebSocket's objects are old and cyclic, and only a full
    collection frees them; rarer full collections let 1000 reconnecting screens grow the process
    by ~50 MB a round for round after round (tests/test_operations.py)."""
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def app_from_env() -> Starlette:
    """For `uvicorn --factory` and `orderpass serve`: settings from the environment."""
    settings = Settings.from_env()
    logs.configure(settings.log_level, secrets=settings.secrets())
    return create_app(settings, tracer_provider=tracing.provider_from_env())


def _observer(metrics: Metrics, labels: Mapping[int, str]) -> Callable[[Any, int, float], None]:
    """Label each request by what it matched, never by its path: the Dojo capability, or the
    label of the route (by identity: `graphql`, `kds`, `/healthz`...). Anything else, an unknown
    /v1 path included, is `unrouted`: one label per path a client made up grew /metrics without
    bound."""
    capabilities = rest.CAPABILITY_OF

    def observe(scope: Any, status: int, seconds: float) -> None:
        operation = capabilities.get(scope.get("endpoint")) or labels.get(id(scope.get("route")), "unrouted")
        metrics.observe(operation, status, seconds)

    return observe
