"""A collector's OTLP/HTTP traces endpoint on loopback: it decodes each ExportTraceServiceRequest
(protobuf, as opentelemetry-exporter-otlp-proto-http sends it) and keeps every span."""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import uvicorn
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

KINDS = {1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}


@dataclass(frozen=True)
class Received:
    """One span as it arrived: ids in hex, attributes as plain values."""

    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_id: str
    service: str
    attributes: dict[str, Any]


@dataclass
class OtlpReceiver:
    url: str = ""
    spans: list[Received] = field(default_factory=list)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        app = Starlette(routes=[Route("/v1/traces", self._traces, methods=["POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert self._thread.is_alive(), "the receiver did not start"
            assert time.monotonic() < deadline, "the receiver did not start in time"
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    def received(self) -> list[Received]:
        with self._lock:
            return list(self.spans)

    async def wait_for(self, name: str, seconds: float = 10.0) -> list[Received]:
        return await spans_once_named(self.received, name, seconds)

    async def _traces(self, request: Request) -> Response:
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest()
        export.ParseFromString(body)
        with self._lock:
            self.spans.extend(_spans(export))
        answer = ExportTraceServiceResponse().SerializeToString()
        return Response(answer, media_type="application/x-protobuf")


class Named(Protocol):
    @property
    def name(self) -> str: ...


S = TypeVar("S", bound=Named)


async def spans_once_named(read: Callable[[], list[S]], name: str, seconds: float = 10.0) -> list[S]:
    """Every span `read` has, once one of them is named `name` (within `seconds`)."""
    deadline = time.monotonic() + seconds
    while True:
        found = read()
        if any(span.name == name for span in found):
            return found
        assert time.monotonic() < deadline, f"no span {name!r} arrived: {[s.name for s in found]}"
        await asyncio.sleep(0.02)


def _spans(export: ExportTraceServiceRequest) -> Iterator[Received]:
    for resource in export.resource_spans:
        service = _attributes(resource.resource.attributes).get("service.name", "")
        for scope in resource.scope_spans:
            for span in scope.spans:
                yield Received(
                    name=span.name,
                    kind=KINDS.get(span.kind, str(span.kind)),
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    parent_id=span.parent_span_id.hex(),
                    service=str(service),
                    attributes=_attributes(span.attributes),
                )


def _attributes(found: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for attribute in found:
        value = attribute.value
        kind = value.WhichOneof("value")
        values[attribute.key] = getattr(value, kind) if kind else None
    return values
