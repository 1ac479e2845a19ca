"""OpenTelemetry tracing: off unless an exporter is configured, by the standard `OTEL_*`
variables only; OTLP over HTTP when it is. Everything tracing installs is installed here, for
as long as the app runs, and only when it is on:

- the switch for the spans orderpass opens itself (server/spans.py): each HTTP request's
  (server/logs.py), each call on Dojo's WebSocket, each outbox delivery, each group commit;
- a span per service use case: every public coroutine method of the services in the bundle,
  wrapped on the instance (the same idea as the libraries' instrumentors, for our own objects),
  and only under a span a door or a delivery opened, so a worker's poll opens none;
- the database's statements (opentelemetry-instrumentation-sqlalchemy, on this app's engine);
- calls to Dojo (opentelemetry-instrumentation-httpx, as the Dojo client's transport), which
  carry W3C `traceparent`;
- a span per GraphQL operation (schema/observing.py; not per field: a busy board resolves
  thousands).

The exporter and the instrumentations are imported only when tracing is on (a quarter of a
second of every start otherwise).

What reaches the exporter starts at a door (SERVER) or an outbox delivery (CONSUMER): a
statement or a use case nothing started (a worker's poll, every second) is dropped before
export (`_Started`).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields
from typing import Any, Final

import httpx
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Tracer

from server import spans
from server.background import Worker
from server.services import Services
from server.settings import SettingsError

log = logging.getLogger("orderpass.tracing")
INSTRUMENTATION: Final = "orderpass"
FLUSH_MILLIS: Final = 3000
_NOT_SERVICES: Final = frozenset({"settings", "clock", "store", "broker", "metrics"})
_WORKERS: Final = frozenset(name for name, _ in inspect.getmembers(Worker, inspect.iscoroutinefunction))
_STARTERS: Final = frozenset({SpanKind.SERVER, SpanKind.CONSUMER})


def wanted(env: Mapping[str, str]) -> bool:
    """Whether these OTEL_* variables ask for traces: an exporter named (`otlp`), or an OTLP
    endpoint given; never when the SDK is disabled or the exporter is `none`. Anything
    orderpass cannot honour is refused by name rather than quietly ignored."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    named = {part.strip().lower() for part in env.get("OTEL_TRACES_EXPORTER", "").split(",") if part.strip()}
    if named - {"otlp", "none"}:
        raise SettingsError(
            f"OTEL_TRACES_EXPORTER={env['OTEL_TRACES_EXPORTER']}: orderpass exports traces over OTLP "
            "only (otlp, or none)"
        )
    for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        protocol = env.get(name, "").strip()
        if protocol and protocol != "http/protobuf":
            raise SettingsError(f"{name}={protocol}: orderpass sends OTLP over HTTP (http/protobuf) only")
    _refuse_captured_credentials(env)
    if named:
        return "otlp" in named
    return any(env.get(name, "").strip() for name in ("OTEL_EXPORTER_OTLP_ENDPOINT",
                                                      "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))  # fmt: skip


def _refuse_captured_credentials(env: Mapping[str, str]) -> None:
    """Headers captured on calls to Dojo (an opt-in of the httpx instrumentation) must leave out
    `authorization`, which holds Dojo's API key: it would be in every call's span."""
    captured = env.get("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST", "").strip()
    hidden = env.get("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS", "").lower()
    if captured and "authorization" not in hidden:
        raise SettingsError(
            "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST is set: add authorization to "
            "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS, or Dojo's API key would be in "
            "every span"
        )


def provider_from_env() -> TracerProvider | None:
    """The tracer provider the OTEL_* variables ask for (the SDK and the exporter read the rest of
    them themselves: endpoint, headers, timeout, sampler, batch sizes, resource), or None."""
    if not wanted(os.environ):
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # only when on

    return provider(BatchSpanProcessor(OTLPSpanExporter()))


def provider(processor: SpanProcessor) -> TracerProvider:
    """A provider that sends what a door or a delivery started to `processor`. `OTEL_SERVICE_NAME`
    names the service, `orderpass` when it is not set."""
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "unknown_service")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: "orderpass"}))
    traced = TracerProvider(resource=resource)
    traced.add_span_processor(_Started(processor))
    return traced


class _Started(SpanProcessor):
    """Passes on the spans of traces a door or a delivery started; drops a statement, call or use
    case that is a root of its own (a worker's poll, every second), which would bury the rest."""

    def __init__(self, inner: SpanProcessor) -> None:
        self.inner = inner

    def on_start(self, span: SdkSpan, parent_context: Context | None = None) -> None:
        self.inner.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if span.parent is None and span.kind not in _STARTERS:
            return
        self.inner.on_end(span)

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


@dataclass(frozen=True, slots=True)
class Traces:
    """An app's tracing: its provider and orderpass's tracer on it."""

    provider: TracerProvider
    tracer: Tracer

    @classmethod
    def of(cls, provider: TracerProvider | None) -> Traces | None:
        if provider is None:
            return None
        return cls(provider, provider.get_tracer(INSTRUMENTATION))

    @property
    def service(self) -> str:
        return str(self.provider.resource.attributes.get(SERVICE_NAME, INSTRUMENTATION))

    def dojo_transport(self) -> httpx.AsyncBaseTransport:
        """The Dojo client's transport: a span per call, and `traceparent` on it."""
        from opentelemetry.instrumentation.httpx import AsyncOpenTelemetryTransport  # only when on

        meters = NoOpMeterProvider()  # metrics are Prometheus's (server/metrics.py)
        return AsyncOpenTelemetryTransport(
            httpx.AsyncHTTPTransport(), tracer_provider=self.provider, meter_provider=meters
        )

    @asynccontextmanager
    async def running(self, services: Services) -> AsyncIterator[None]:
        """On for as long as the block runs: our own spans, the use cases', the statements'."""
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer  # only when on

        spans.turn_on(self.tracer)
        statements = self.provider.get_tracer("opentelemetry.instrumentation.sqlalchemy")
        counter = NoOpMeterProvider().get_meter(INSTRUMENTATION).create_up_down_counter("db.connections")
        EngineTracer(statements, services.store.engine.sync_engine, counter)  # type: ignore[no-untyped-call]
        trace_use_cases(services, self.tracer)
        log.info("OpenTelemetry tracing is on (service.name %s)", self.service)
        try:
            yield
        finally:
            spans.turn_off()
            # What is still queued goes now, off the loop, and a collector that is away holds up
            # shutdown a few seconds at most (the exporter's own retries would take a minute).
            await asyncio.to_thread(self.provider.force_flush, FLUSH_MILLIS)


def trace_use_cases(services: Services, tracer: Tracer) -> None:
    """A span per use case (`Orders.place`), on each service in the bundle."""
    for found in fields(services):
        if found.name in _NOT_SERVICES:
            continue
        service = getattr(services, found.name)
        for name, _ in inspect.getmembers(type(service), inspect.iscoroutinefunction):
            if name.startswith("_") or name in _WORKERS:
                continue
            label = f"{type(service).__name__}.{name}"
            setattr(service, name, _use_case(label, getattr(service, name), tracer))


def _use_case(label: str, method: Callable[..., Awaitable[Any]], tracer: Tracer) -> Callable[..., Any]:
    @functools.wraps(method)
    async def traced(*args: Any, **kwargs: Any) -> Any:
        if not trace.get_current_span().is_recording():  # nothing a door or a delivery started
            return await method(*args, **kwargs)
        with tracer.start_as_current_span(label, attributes={"code.function.name": label}):
            return await method(*args, **kwargs)

    return traced
