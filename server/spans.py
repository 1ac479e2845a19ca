"""The spans orderpass opens itself, and the one switch that turns them on.

Off (the default, and whenever no OpenTelemetry exporter is configured) every helper here costs
one global read and creates no OpenTelemetry object: `opened` hands back one shared no-op
context manager. `server/tracing.py` turns it on for as long as an app that traces runs, with
that app's tracer; the libraries' own instrumentation (database statements, calls to Dojo) is
installed there too, and only then.

A trace id travels between processes as W3C `traceparent` (`00-<trace>-<span>-<flags>`): on
requests (honoured even with tracing off, so a caller's id is the one in our log), on the
outbox's rows (the OrderUpdated owed for a change is sent under the change's trace) and on
calls to Dojo.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager, asynccontextmanager, nullcontext
from typing import Any, Final

from opentelemetry import context, propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_tracer: Tracer | None = None
_OFF: Final = nullcontext(None)  # shared: with tracing off, no span and no allocation
_PARENT: Final = re.compile(r"(?!ff)[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}.*")
_W3C: Final = TraceContextTextMapPropagator()
NO_TRACE: Final = "0" * 32


def turn_on(tracer: Tracer) -> None:
    global _tracer
    _tracer = tracer


def turn_off() -> None:
    global _tracer
    _tracer = None


def tracing() -> bool:
    return _tracer is not None


def opened(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: Context | None = None,
    links: Sequence[Link] = (),
    attributes: dict[str, Any] | None = None,
) -> AbstractContextManager[Span | None]:
    """A span, current inside the block (None with tracing off). Exceptions are recorded on it."""
    tracer = _tracer
    if tracer is None:
        return _OFF
    return tracer.start_as_current_span(name, context=parent, kind=kind, links=links, attributes=attributes)


def origin() -> Context | None:
    """Where a piece of work was asked for (the current context), to join it later from
    another task; None with tracing off."""
    return None if _tracer is None else context.get_current()


def joined(name: str, origins: Sequence[Context | None]) -> AbstractAsyncContextManager[Span | None]:
    """One span for work done at once for several requests (a group commit): a child of the
    first request's span, linked to each of the others'."""
    if _tracer is None:
        return _OFF  # nullcontext is async too, and reusable: nothing allocated
    asked = [found for found in origins if found is not None and _recording(found)]
    if not asked:  # no door asked (a worker placing orders): no trace of its own
        return _OFF
    links = [Link(trace.get_current_span(found).get_span_context()) for found in asked[1:]]
    return _joined(name, asked[0], links)


def within(name: str, *, kind: SpanKind = SpanKind.INTERNAL) -> AbstractContextManager[Span | None]:
    """A span only inside one a door or a delivery opened (a worker's own work opens none)."""
    if _tracer is None or not trace.get_current_span().is_recording():
        return _OFF
    return _tracer.start_as_current_span(name, kind=kind)


def _recording(found: Context) -> bool:
    return trace.get_current_span(found).is_recording()


@asynccontextmanager
async def _joined(name: str, parent: Context | None, links: list[Link]) -> AsyncIterator[Span | None]:
    with opened(name, parent=parent, links=links, attributes={"orderpass.requests": len(links) + 1}) as span:
        yield span


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the span now current, as 32 and 16 hex digits; None without one."""
    if _tracer is None:
        return None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def traceparent(context: Context | None = None) -> str | None:
    """A span (the current one, or the one `context` holds) as a W3C traceparent, to store beside
    work done later; None when off."""
    if _tracer is None:
        return None
    carrier: dict[str, str] = {}
    _W3C.inject(carrier, context=context)
    return carrier.get("traceparent")


def continued(
    name: str, parent: str | None, *, attributes: dict[str, Any] | None = None
) -> AbstractContextManager[Span | None]:
    """Work done later for a change (its Dojo event, its fan-out to screens), as a CONSUMER span
    in the trace of the change's stored `traceparent`. Work no traced change asked for (a
    poll, a change a worker made) opens none: it would be a trace of its own every second."""
    if _tracer is None or parent is None:
        return _OFF
    context = _W3C.extract({"traceparent": parent})
    return _tracer.start_as_current_span(name, context=context, kind=SpanKind.CONSUMER, attributes=attributes)


def remote(headers: Sequence[tuple[bytes, bytes]]) -> Context | None:
    """The caller's context, from a request's headers (`traceparent`, as OTEL_PROPAGATORS say);
    None, and nothing read, with tracing off."""
    if _tracer is None:
        return None
    return propagate.extract({name.decode("latin-1"): value.decode("latin-1") for name, value in headers})


def trace_id_of(headers: Iterator[tuple[bytes, bytes]] | Sequence[tuple[bytes, bytes]]) -> str:
    """A request's trace id with tracing off: the caller's, from a valid `traceparent`, or 128
    fresh random bits (as a uuid4 has, at a third of its cost)."""
    for name, value in headers:
        if name == b"traceparent":
            found = _PARENT.fullmatch(value.decode("latin-1").strip().lower())
            if found and found.group(1) != NO_TRACE:
                return found.group(1)
    return os.urandom(16).hex()
