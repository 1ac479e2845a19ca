"""create_app(settings): the one place that builds engines, brokers and services and wires the doors."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from schema import build_schema, graphiql
from schema.view import graphql_app
from server import logs
from server.broker import create_broker
from server.changes.feed import Feed
from server.clock import Clock, SystemClock
from server.dojo import openapi, rest
from server.dojo.client import DojoClient
from server.dojo.outbox import Dispatcher
from server.dojo.resolver import Resolver
from server.errors import OrderpassError
from server.kds.pages import KitchenDisplay
from server.metrics import Metrics
from server.orders.amendments import Amendments
from server.orders.service import Orders
from server.payments.cashier import Cashier
from server.settings import Settings
from server.staff.sessions import Sessions
from server.staff.tokens import Tokens, bearer
from server.stations.prep import Prep
from server.store import Store, create_store

log = logging.getLogger("orderpass")


def create_app(settings: Settings, *, clock: Clock | None = None) -> Starlette:
    username, password = settings.dojo_credentials()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        store = create_store(settings)
        await store.start()
        broker = create_broker(settings.broker_url)
        dojo_events = timedelta(milliseconds=settings.dojo_event_delay_ms) if settings.talks_to_dojo else None
        parts: dict[str, Any] = {
            "store": store,
            "broker": broker,
            "clock": clock or SystemClock(),
            "dojo_events": dojo_events,
        }
        orders = Orders(**parts, auto_confirm=settings.auto_confirm)
        cashier = Cashier(**parts, longest_lock=timedelta(seconds=settings.dojo_lock_max_seconds))
        feed = Feed(orders=orders, broker=broker, max_replays=settings.max_replays)
        await feed.start()
        tokens = Tokens(store=store, clock=parts["clock"], broker=broker)
        sessions = Sessions(tokens=tokens, broker=broker, every=settings.token_recheck_seconds)
        await sessions.start()
        dojo = await _talk_to_dojo(settings, orders=orders, cashier=cashier)
        if settings.tune_gc:
            _tune_gc()
        try:
            yield {
                "settings": settings,
                "store": store,
                "orders": orders,
                "cashier": cashier,
                "prep": Prep(**parts),
                "amendments": Amendments(**parts),
                "tokens": tokens,
                "sessions": sessions,
                "feed": feed,
                "metrics": metrics,
            }
        finally:
            try:
                await dojo.aclose()
                await sessions.stop()
                await feed.stop()
            finally:
                await broker.close()
                await store.close()

    graphql = graphql_app(
        build_schema(),
        ping_seconds=settings.ws_ping_seconds,
        send_timeout=settings.ws_send_timeout_seconds,
        max_body_bytes=settings.max_body_bytes,
        max_operations=settings.ws_max_operations,
    )
    kitchen_display = KitchenDisplay.create(settings)
    doors: dict[str, list[BaseRoute]] = {
        "graphql": [Route("/graphql", graphql, methods=["GET", "POST"]), WebSocketRoute("/graphql", graphql)],
        "kds": kitchen_display.routes(),
        "graphiql": graphiql.routes(),
    }
    fixed = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/openapi.json", openapi_document),
        Route("/metrics", metrics_page),
    ]
    routes = [
        rest.mount(username=username, password=password),
        *doors["graphql"],
        *fixed,
        *doors["kds"],
        *doors["graphiql"],
    ]
    labels = {id(route): door for door, found in doors.items() for route in found}
    labels |= {id(route): route.path for route in fixed}
    tracing = Middleware(logs.Tracing, fallback=rest.unexpected, observe=_observer(metrics, labels))
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[*_behind_proxies(settings), tracing],
        exception_handlers={OrderpassError: rest.error_response, HTTPException: rest.error_response},
    )


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


async def _talk_to_dojo(settings: Settings, *, orders: Orders, cashier: Cashier) -> AsyncExitStack:
    """With an API key: the client, the outbox dispatcher and the payment resolver, all in the
    background. Without one, all of it is off, and the log says so once."""
    stack = AsyncExitStack()
    if not settings.talks_to_dojo:
        log.warning(
            "ORDERPASS_DOJO_API_KEY is not set: POS events to Dojo and payment-intent lookups are off"
        )
        return stack
    assert settings.dojo_api_key is not None
    client = DojoClient(
        base_url=settings.dojo_api_url,
        api_key=settings.dojo_api_key,
        software_house_id=settings.dojo_software_house_id,
    )
    stack.push_async_callback(client.close)
    delay = timedelta(milliseconds=settings.dojo_event_delay_ms)
    dispatcher = Dispatcher(
        store=orders.store, dojo=client, clock=orders.clock, broker=orders.broker, delay=delay
    )
    resolver = Resolver(cashier=cashier, dojo=client, clock=orders.clock)
    for worker in (dispatcher, resolver):
        await worker.start()
        stack.push_async_callback(worker.stop)
    return stack


def app_from_env() -> Starlette:
    """For `uvicorn --factory` and `orderpass serve`: settings from the environment."""
    settings = Settings.from_env()
    logs.configure(settings.log_level, secrets=settings.secrets())
    return create_app(settings)


async def healthz(request: Request) -> Response:
    return rest.render({"status": "alive"})


async def readyz(request: Request) -> Response:
    store: Store = request.state.store
    await store.ping()
    return rest.render({"status": "ready"})


def _observer(metrics: Metrics, labels: Mapping[int, str]) -> Callable[[Any, int, float], None]:
    """Label each request by what it matched, never by its path: the Dojo capability, or the
    label of the route (by identity: `graphql`, `kds`, `/healthz`...). Anything else, an unknown
    /v1 path included, is `unrouted`: one label per path a client made up grew /metrics without
    bound."""
    capabilities = {op.endpoint: op.capabilities[0].split(":")[0] for op in rest.OPERATIONS}

    def observe(scope: Any, status: int, seconds: float) -> None:
        operation = capabilities.get(scope.get("endpoint")) or labels.get(id(scope.get("route")), "unrouted")
        metrics.observe(operation, status, seconds)

    return observe


async def metrics_page(request: Request) -> Response:
    """For a scraper holding a staff token (any role): the figures say how trade is going."""
    state = request.state
    tokens: Tokens = state.tokens
    if await tokens.authenticate(bearer(request.headers.get("authorization"))) is None:
        body = b"a staff bearer token is required (any role)\n"
        return Response(body, 401, {"WWW-Authenticate": "Bearer"}, "text/plain")
    orders: Orders = state.orders
    owed = await orders.owed_to_dojo()
    snapshot = {
        "orderpass_orders": {status.value: n for status, n in (await orders.status_counts()).items()},
        "orderpass_subscribers": state.feed.subscriber_count,
        "orderpass_dojo_outbox_owed": owed.owed,
        "orderpass_dojo_outbox_failing": owed.failing,
        "orderpass_dojo_outbox_oldest_seconds": (orders.clock.now() - owed.oldest).total_seconds()
        if owed.oldest
        else 0,
        "orderpass_unmatched_payments": await state.cashier.unmatched_count(),
    }
    metrics: Metrics = state.metrics
    return Response(metrics.render(snapshot), media_type=CONTENT_TYPE_LATEST)


async def openapi_document(request: Request) -> Response:
    return rest.render(openapi.document())
