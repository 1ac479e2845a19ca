"""OpenTelemetry tracing (server/tracing.py, server/spans.py): a CreateOrder's trace from Dojo's
call through the service, the database and the outbox to the call back to Dojo; the traceId in
logs and EPOSError bodies is the trace's; no secret in any span; and off, it costs nothing and
still honours a caller's traceparent. The SDK's in-memory exporter in-process, and one real
OTLP/HTTP receiver on loopback for the real `orderpass serve`."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path

import httpx
import orjson
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from server import spans, tracing
from server.logs import JsonFormatter
from server.services import Services
from server.settings import Settings, SettingsError
from server.staff.roles import Role
from server.tracing import Traces
from tests.conftest import LiveServer, dojo_client, mint, place
from tests.factories import make_order
from tests.fake_dojo import FakeDojo
from tests.fake_dojo_ws import FakeDojoWs
from tests.otlp_receiver import OtlpReceiver, spans_once_named
from tests.processes import DOJO_AUTH, run, serving
from tests.test_dojo_socket import socket_settings
from tests.test_graphql_http import changes, socket, subscribe

HOUSE = "sh_orderpass_test"
HEX32 = re.compile(r"[0-9a-f]{32}")
MOVE = "mutation($id: ID!, $to: OrderStatus!) { moveOrder(id: $id, to: $to) { __typename } }"
CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Traced:
    """A live server whose spans land in memory."""

    def __init__(self, server: LiveServer, exporter: InMemorySpanExporter) -> None:
        self.server = server
        self.exporter = exporter

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    async def wait_for(self, name: str, seconds: float = 10.0) -> list[ReadableSpan]:
        return await spans_once_named(self.spans, name, seconds)


def in_memory() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    return tracing.provider(SimpleSpanProcessor(exporter)), exporter


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def traced(serve: Callable[..., LiveServer], fake_dojo: FakeDojo) -> Traced:
    provider, exporter = in_memory()
    server = serve(
        tracer_provider=provider,
        dojo_api_key=fake_dojo.api_key,
        dojo_api_url=fake_dojo.url,
        dojo_software_house_id=HOUSE,
        dojo_event_delay_ms=1,
    )
    return Traced(server, exporter)


def hex_trace(span: ReadableSpan) -> str:
    assert span.context is not None
    return format(span.context.trace_id, "032x")


def named(found: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    (span,) = [span for span in found if span.name == name]
    return span


def child_of(span: ReadableSpan, parent: ReadableSpan) -> bool:
    return (
        span.parent is not None
        and parent.context is not None
        and span.parent.span_id == parent.context.span_id
    )


# -- in-process, in memory ----------------------------------------------------------------------


async def test_a_create_orders_trace_runs_from_the_door_to_the_call_to_dojo(
    traced: Traced, fake_dojo: FakeDojo
):
    async with dojo_client(traced.server) as dojo:
        answer = await dojo.post("/v1/orders", json=make_order())
    assert answer.status_code == 200
    (event,) = [call for call in await fake_dojo.wait_for_calls(1) if call.path == "/epos/events"]
    found = await traced.wait_for("dojo.outbox OrderUpdated")
    found = await traced.wait_for("POST")  # the call to Dojo ends after the delivery's statements
    door = named(found, "POST /v1/orders")
    trace = hex_trace(door)
    mine = [span for span in found if hex_trace(span) == trace]
    use_case = named(mine, "Orders.place")
    batch = named(mine, "orders.place_batch")
    delivery = named(mine, "dojo.outbox OrderUpdated")
    call = named(mine, "POST")
    statements = [span for span in mine if child_of(span, batch) and span.kind is SpanKind.CLIENT]
    assert door.kind is SpanKind.SERVER
    assert door.attributes is not None
    assert door.attributes["http.route"] == "/v1/orders"
    assert child_of(use_case, door)
    assert child_of(batch, use_case)
    assert any(span.name.startswith("INSERT") for span in statements), [s.name for s in statements]
    assert delivery.kind is SpanKind.CONSUMER
    assert child_of(delivery, use_case)
    assert call.kind is SpanKind.CLIENT
    assert child_of(call, delivery)
    assert call.context is not None
    assert event.headers["traceparent"].split("-")[1:3] == [trace, format(call.context.span_id, "016x")]
    assert answer.headers.get("traceparent") is None  # we answer no traceparent; Dojo never asked for one


async def test_orders_placed_together_each_keep_their_own_trace(traced: Traced, fake_dojo: FakeDojo):
    async with dojo_client(traced.server) as dojo:
        answers = await asyncio.gather(*(dojo.post("/v1/orders", json=make_order()) for _ in range(6)))
    assert {answer.status_code for answer in answers} == {200}
    await fake_dojo.wait_for_events(6)
    await asyncio.sleep(0.3)  # the last deliveries' spans end after Dojo answers
    found = traced.spans()
    doors = [span for span in found if span.name == "POST /v1/orders"]
    assert len({hex_trace(door) for door in doors}) == 6
    batches = [span for span in found if span.name == "orders.place_batch"]
    linked = {format(link.context.trace_id, "032x") for batch in batches for link in batch.links}
    joined = {hex_trace(batch) for batch in batches}
    assert joined | linked == {hex_trace(door) for door in doors}  # every request: a batch's, or linked
    deliveries = [span for span in found if span.name == "dojo.outbox OrderUpdated"]
    assert {hex_trace(span) for span in deliveries} == {hex_trace(door) for door in doors}
    assert await orphans(traced) == []  # every span's parent arrived: each trace is whole


async def orphans(traced: Traced, seconds: float = 3.0) -> list[str]:
    """Spans whose parent never arrived, and roots that are not a door or a delivery (a worker's
    poll), once the last spans have ended."""
    deadline = time.monotonic() + seconds
    while True:
        found = traced.spans()
        ids = {span.context.span_id for span in found if span.context is not None}
        lost = [
            span.name
            for span in found
            if (span.parent is not None and span.parent.span_id not in ids)
            or (span.parent is None and span.kind not in (SpanKind.SERVER, SpanKind.CONSUMER))
        ]
        if not lost or time.monotonic() > deadline:
            return lost
        await asyncio.sleep(0.05)


async def test_the_trace_id_in_logs_and_in_an_eposerror_is_the_requests_span(
    traced: Traced, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="orderpass.access")
    async with dojo_client(traced.server) as dojo:
        missing = await dojo.get("/v1/orders/ord_missing")
    assert missing.status_code == 404
    trace = missing.json()["traceId"]
    found = await traced.wait_for("GET /v1/orders/{orderId}")
    assert hex_trace(named(found, "GET /v1/orders/{orderId}")) == trace
    await asyncio.sleep(0.05)  # the server's thread logs after answering
    (line,) = [r for r in caplog.records if getattr(r, "path", None) == "/v1/orders/ord_missing"]
    formatted = orjson.loads(JsonFormatter().format(line))
    assert formatted["traceId"] == trace


async def test_a_callers_traceparent_is_the_trace_the_request_joins(traced: Traced):
    async with dojo_client(traced.server) as dojo:
        missing = await dojo.get("/v1/orders/ord_missing", headers={"traceparent": CALLER})
        await dojo.get("/v1/no/such/path?token=opt_not-in-any-span")
    assert missing.json()["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    door = named(await traced.wait_for("GET /v1/orders/{orderId}"), "GET /v1/orders/{orderId}")
    unrouted = named(await traced.wait_for("GET"), "GET")  # named by no route, and never by its path
    assert unrouted.attributes is not None
    assert unrouted.attributes["http.response.status_code"] == 404
    assert door.parent is not None
    assert format(door.parent.span_id, "016x") == "00f067aa0ba902b7"


async def test_a_graphql_operation_is_a_span_under_its_request(traced: Traced):
    token = await mint(traced.server.settings, Role.KITCHEN)
    async with httpx.AsyncClient(base_url=traced.server.url) as client:
        answer = await client.post(
            "/graphql", json={"query": "{ lastSequence }"}, headers={"Authorization": f"Bearer {token}"}
        )
    assert answer.status_code == 200
    found = await traced.wait_for("POST /graphql")
    operation = named(found, "graphql query lastSequence")
    assert child_of(operation, named(found, "POST /graphql"))
    assert any(child_of(span, operation) and span.name == "Orders.last_sequence" for span in found)


async def test_a_bump_reaches_the_screens_feed_in_its_own_trace(traced: Traced):
    token = await mint(traced.server.settings, Role.ADMIN)
    order_id = await place(traced.server)
    async with socket(traced.server, token=token) as screen:
        await subscribe(screen, since=0)
        # Its replay of the placing first: the screen is a subscriber of the feed by then. A
        # move sent sooner could reach the feed before it (no one to fan out to, so no span),
        # and the screen's replay would then bring it.
        (placed,) = await changes(screen, 1)
        async with httpx.AsyncClient(base_url=traced.server.url) as client:
            moved = await client.post(
                "/graphql",
                json={"query": MOVE, "variables": {"id": order_id, "to": "ACCEPTED"}},
                headers={"Authorization": f"Bearer {token}"},
            )
        assert moved.json() == {"data": {"moveOrder": {"__typename": "Order"}}}
        (change,) = await changes(screen, 1)
        assert (placed["kind"], change["kind"]) == ("CREATED", "STATUS_CHANGED")
        assert change["order"]["status"] == "ACCEPTED"
    found = await traced.wait_for("feed orderpass.changes")
    bump = named(found, "graphql mutation moveOrder")
    mine = [span for span in found if hex_trace(span) == hex_trace(bump)]
    publish = named(mine, "publish orderpass.changes")
    feed = named(mine, "feed orderpass.changes")
    assert child_of(named(mine, "Orders.move"), bump)
    assert publish.kind is SpanKind.PRODUCER
    assert feed.kind is SpanKind.CONSUMER
    assert child_of(feed, publish)
    assert any(child_of(span, feed) for span in mine)  # the feed's reads of the change
    assert await orphans(traced) == []


async def test_tracing_is_in_place_before_any_worker_starts_and_until_every_one_stopped(settings: Settings):
    """Tracing added its listeners to the engine after the workers started; one start in ten the
    feed's first connection was running through them, failed ("deque mutated during iteration"),
    and the live feed was dead from the start (test_a_bump_reaches_the_screens_feed_...)."""
    provider, _ = in_memory()
    traces = Traces.of(provider)
    assert traces is not None
    seen: list[list[bool]] = []

    def workers(services: Services) -> list[bool]:
        return [worker.running for worker in (services.feed, services.sessions, services.ordering)]

    @contextlib.asynccontextmanager
    async def instrumented(services: Services) -> AsyncIterator[None]:
        seen.append(workers(services))
        async with traces.running(services):
            yield
        seen.append(workers(services))

    async with Services.running(settings, instrumented=instrumented) as services:
        assert workers(services) == [True, True, True]
    assert seen == [[False, False, False], [False, False, False]]


async def test_a_call_on_dojos_websocket_is_a_span_whose_trace_its_eposerror_quotes(
    serve: Callable[..., LiveServer], fake_dojo_ws: FakeDojoWs, fake_dojo: FakeDojo
):
    provider, exporter = in_memory()
    traced = Traced(serve(tracer_provider=provider, **socket_settings(fake_dojo_ws, fake_dojo)), exporter)
    answer = await fake_dojo_ws.call("GetOrderByIdV1", {"orderId": "ord_missing"})
    trace = answer["error"]["traceId"]
    found = await traced.wait_for("dojo.ws GetOrderByIdV1")
    door = named(found, "dojo.ws GetOrderByIdV1")
    assert door.kind is SpanKind.SERVER
    assert hex_trace(door) == trace
    assert child_of(named(found, "Orders.get"), door)


async def test_no_credential_shows_up_in_any_span(traced: Traced, fake_dojo: FakeDojo):
    token = await mint(traced.server.settings, Role.ADMIN)
    password = DOJO_AUTH[1]
    async with httpx.AsyncClient(base_url=traced.server.url) as client:
        await client.post("/v1/orders", json=make_order(), auth=DOJO_AUTH)
        await client.post("/v1/orders", json=make_order(), auth=("dojo", "wrong-" + password))
        await client.post(
            "/graphql", json={"query": "{ lastSequence }"}, headers={"Authorization": f"Bearer {token}"}
        )
        await client.get(f"/kds?token={token}")
        await client.post(
            "/kds/login", data={"token": token, "next": "/kds"}, headers={"Origin": traced.server.url}
        )
    await fake_dojo.wait_for_events(1)
    found = await traced.wait_for("POST")
    written = repr([(s.name, dict(s.attributes or {}), [e.attributes for e in s.events]) for s in found])
    basic = base64.b64encode(f"dojo:{password}".encode()).decode()
    assert "/kds" in written  # the pages were traced...
    for secret in (token, token.removeprefix("opt_"), password, fake_dojo.api_key, basic):
        assert secret not in written  # ...and none of what they were asked with


def test_a_log_line_inside_a_span_carries_its_trace_and_span_ids():
    provider, _ = in_memory()
    spans.turn_on(provider.get_tracer("test"))
    try:
        with spans.opened("work") as span:
            assert span is not None
            record = logging.LogRecord("orderpass", logging.INFO, __file__, 1, "hello %s", ("you",), None)
            line = orjson.loads(JsonFormatter().format(record))
            context = span.get_span_context()
    finally:
        spans.turn_off()
    assert line["traceId"] == format(context.trace_id, "032x")
    assert line["spanId"] == format(context.span_id, "016x")
    assert (line["level"], line["logger"], line["msg"]) == ("INFO", "orderpass", "hello you")


# -- off ----------------------------------------------------------------------------------------


def test_off_a_requests_trace_id_is_the_callers_or_a_fresh_w3c_one():
    assert not spans.tracing()
    assert spans.trace_id_of([(b"traceparent", CALLER.encode())]) == "4bf92f3577b34da6a3ce929d0e0e4736"
    for unusable in (b"00-" + b"0" * 32 + b"-00f067aa0ba902b7-01", b"nonsense", b"ff-" + CALLER[3:].encode()):
        fresh = spans.trace_id_of([(b"traceparent", unusable)])
        assert HEX32.fullmatch(fresh)
        assert fresh != "0" * 32
    assert spans.trace_id_of([]) != spans.trace_id_of([])


def test_off_nothing_is_opened_and_nothing_is_allocated():
    assert not spans.tracing()
    assert spans.opened("a") is spans.opened("b")  # one shared no-op
    assert spans.joined("batch", [None, None]) is spans.opened("c")  # type: ignore[comparison-overlap]
    assert spans.within("d") is spans.opened("e")
    assert spans.origin() is None
    assert spans.traceparent() is None
    assert spans.current_ids() is None
    assert spans.remote([(b"traceparent", CALLER.encode())]) is None


async def test_off_an_eposerror_carries_the_callers_trace_id(live_server: LiveServer):
    async with dojo_client(live_server) as dojo:
        missing = await dojo.get("/v1/orders/ord_missing", headers={"traceparent": CALLER})
        fresh = await dojo.get("/v1/orders/ord_missing")
    assert missing.json()["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert HEX32.fullmatch(fresh.json()["traceId"])


# -- which OTEL_* variables turn it on ----------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "pos"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, True),
        (
            {
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST": ".*",
                "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS": "Authorization,cookie",
            },
            True,
        ),
    ],
)
def test_tracing_is_off_unless_an_exporter_is_set(env: dict[str, str], on: bool):
    assert tracing.wanted(env) is on


@pytest.mark.parametrize(
    "env",
    [
        {"OTEL_TRACES_EXPORTER": "zipkin"},
        {"OTEL_TRACES_EXPORTER": "otlp,console"},
        {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"},
        {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST": ".*"},
    ],
)
def test_what_orderpass_cannot_export_is_refused_by_name(env: dict[str, str]):
    with pytest.raises(SettingsError, match="OTEL_"):
        tracing.wanted(env)


# -- the real server, a real collector endpoint -------------------------------------------------


async def test_a_create_orders_trace_arrives_whole_at_an_otlp_collector(
    tmp_path: Path, fake_dojo: FakeDojo, otlp_receiver: OtlpReceiver
):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ORDERPASS_", "OTEL_"))},
        "ORDERPASS_DATABASE_URL": f"sqlite:///{tmp_path}/traced.db",
        "ORDERPASS_DOJO_USERNAME": DOJO_AUTH[0],
        "ORDERPASS_DOJO_PASSWORD": DOJO_AUTH[1],
        "ORDERPASS_DOJO_API_KEY": fake_dojo.api_key,
        "ORDERPASS_DOJO_API_URL": fake_dojo.url,
        "ORDERPASS_DOJO_SOFTWARE_HOUSE_ID": HOUSE,
        "ORDERPASS_DOJO_EVENT_DELAY_MS": "1",
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.url,
        "OTEL_SERVICE_NAME": "orderpass-test",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    assert run("db", "upgrade", env=env).returncode == 0
    with serving(env) as server:
        async with httpx.AsyncClient(base_url=server.url, auth=DOJO_AUTH) as dojo:
            answer = await dojo.post("/v1/orders", json=make_order())
        assert answer.status_code == 200, answer.text
        (event,) = [call for call in await fake_dojo.wait_for_calls(1) if call.path == "/epos/events"]
        trace = answer.json()["id"] and event.headers["traceparent"].split("-")[1]
        await otlp_receiver.wait_for("dojo.outbox OrderUpdated")
        found = await otlp_receiver.wait_for("POST")
    mine = [span for span in found if span.trace_id == trace]
    by_name = {span.name: span for span in mine}
    assert {
        "POST /v1/orders",
        "Orders.place",
        "orders.place_batch",
        "dojo.outbox OrderUpdated",
        "POST",
    } <= set(by_name)
    assert any(span.kind == "CLIENT" and span.name.startswith("INSERT") for span in mine)  # the database
    assert by_name["POST /v1/orders"].kind == "SERVER"
    assert by_name["POST /v1/orders"].parent_id == ""
    assert by_name["Orders.place"].parent_id == by_name["POST /v1/orders"].span_id
    assert by_name["dojo.outbox OrderUpdated"].parent_id == by_name["Orders.place"].span_id
    assert by_name["POST"].parent_id == by_name["dojo.outbox OrderUpdated"].span_id
    assert event.headers["traceparent"].split("-")[1:3] == [trace, by_name["POST"].span_id]
    assert {span.service for span in mine} == {"orderpass-test"}
    lines = [orjson.loads(line) for line in server.stderr.splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "orderpass.access" and line["path"] == "/v1/orders"]
    assert [line["traceId"] for line in access] == [trace]  # the log's traceId is the trace's


def test_serve_refuses_an_exporter_it_cannot_honour_in_words(tmp_path: Path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ORDERPASS_", "OTEL_"))},
        "ORDERPASS_DATABASE_URL": f"sqlite:///{tmp_path}/refused.db",
        "OTEL_TRACES_EXPORTER": "zipkin",
    }
    refused = run("serve", "--dev", "--port", "0", env=env)
    assert refused.returncode != 0
    assert "OTEL_TRACES_EXPORTER=zipkin" in refused.stderr
    assert "Traceback" not in refused.stderr
