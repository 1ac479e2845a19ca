"""A fake of Dojo's own API (version 2026-02-27) on loopback, for the client and what uses it.

It checks the headers Dojo requires, records every call, answers payment intents a test
adds, accepts POS events and REST and WebSocket registrations, and fails or stalls on demand.
Where ../shared/dojo is present, every request body is checked against Dojo's published
schema; what breaks it lands in `violations` (and is answered 400, as Dojo would).

Every call is recorded first, then stalled and failed as the test asked (before the headers
are checked, as a load balancer in front of Dojo would), and only then served.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar

import orjson
import pytest
import uvicorn
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.clock import iso
from tests import dojo_contract

DOJO_API = dojo_contract.SHARED / "dojo-api.openapi.json"
DEFAULT_KEY = "sk_sandbox_test"
_URI = "urn:dojo:dojo-api.openapi.json"
_NOT_JSON = object()
Answer = tuple[int, Any]
Handler = Callable[[Request, Any], Awaitable[Answer]]


# -- Dojo's schemas -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DojoSpec:
    """dojo-api.openapi.json is OpenAPI 3.0, checked as Draft 2020-12 once `nullable` is
    rewritten (`_with_nulls`); the other 3.0-only keywords (`example`, `x-*`) are ignored."""

    spec: dict[str, Any]
    registry: Registry[Any]

    def errors(self, schema: Mapping[str, Any], body: Any) -> list[str]:
        validator = Draft202012Validator(schema, registry=self.registry, format_checker=FormatChecker())
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in validator.iter_errors(body)
        ]

    def schema_errors(self, name: str, body: Any) -> list[str]:
        return self.errors({"$ref": f"{_URI}#/components/schemas/{name}"}, body)

    def request_errors(self, template: str, method: str, body: Any) -> list[str]:
        operation = self.spec["paths"].get(template, {}).get(method.lower(), {})
        if "requestBody" not in operation:
            return []
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        return self.errors({"$ref": f"{_URI}{schema['$ref']}"}, body)


@cache
def dojo_spec() -> DojoSpec | None:
    if not DOJO_API.exists():
        return None
    spec = _with_nulls(orjson.loads(DOJO_API.read_bytes()))
    resource = Resource.from_contents(spec, default_specification=DRAFT202012)
    return DojoSpec(spec, Registry().with_resource(_URI, resource))


def _with_nulls(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` in JSON Schema terms: null, or what the schema says."""
    if isinstance(node, list):
        return [_with_nulls(item) for item in node]
    if not isinstance(node, dict):
        return node
    schema = {key: _with_nulls(value) for key, value in node.items() if key != "nullable"}
    return {"anyOf": [{"type": "null"}, schema]} if node.get("nullable") is True else schema


# -- the fake -----------------------------------------------------------------------------------


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case
    body: Any
    at: datetime
    status: int | None = None  # None: the caller hung up before the answer


@dataclass
class _Faults:
    failures: deque[tuple[int, float | None]] = field(default_factory=deque)
    stall: float = 0.0


T = TypeVar("T")


class FakeDojo:
    def __init__(self, *, api_key: str = DEFAULT_KEY) -> None:
        self.api_key = api_key
        self.url = ""
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._violations: list[str] = []
        self._intents: dict[str, dict[str, Any]] = {}
        self._rest: dict[str, Any] | None = None
        self._ws: dict[str, Any] | None = None
        self._faults = _Faults()
        self._stopping = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = Starlette(
            routes=[
                self._route("/payment-intents/{paymentIntentId}", "GET", self._payment_intent),
                self._route("/epos/events", "POST", self._event),
                self._route("/epos/integrations/rest", "PUT", self._register_rest),
                self._route("/epos/integrations/ws", "PUT", self._register_ws),
                self._route("/epos/integrations/ws", "GET", self._ws_integrations),
                self._route("/epos/integrations", "GET", self._integrations),
                Route("/{path:path}", self._endpoint("", _unknown), methods=["GET", "POST", "PUT", "DELETE"]),
            ]
        )

    # -- running ---------------------------------------------------------------------------------

    def start(self) -> str:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_config=None, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake Dojo did not start")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def stop(self) -> None:
        self._stopping.set()  # ends any stall at once, so shutdown does not wait on it
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    # -- what a test sets up ---------------------------------------------------------------------

    def add_payment_intent(
        self,
        payment_intent_id: str,
        *,
        status: str = "Authorized",
        amount: int = 1000,
        currency: str = "GBP",
        tips: int | None = None,
        external_id: str | None = None,
        dojo_order_id: str | None = None,
        capture_mode: str = "Auto",
        created_at: datetime | None = None,
    ) -> dict[str, Any]:
        """A PaymentIntent body as Dojo answers it (the fields Order & Pay intents carry)."""
        body: dict[str, Any] = {
            "id": payment_intent_id,
            "captureMode": capture_mode,
            "status": status,
            "paymentMethods": ["Card"],
            "amount": {"value": amount, "currencyCode": currency},
            "totalAmount": {"value": amount + (tips or 0), "currencyCode": currency},
            "refundedAmount": 0,
            "createdAt": iso(created_at or datetime.now(UTC)),
            "updatedAt": iso(datetime.now(UTC)),
            "reference": f"Order {external_id or payment_intent_id}",
            "orderDetails": {"id": dojo_order_id or f"dojo-{payment_intent_id}", "externalId": external_id},
        }
        if tips is not None:
            body["tipsAmount"] = {"value": tips, "currencyCode": currency}
        return self.add_raw_payment_intent(body)

    def add_raw_payment_intent(self, body: dict[str, Any]) -> dict[str, Any]:
        """Any body at all under its `id`: for what a newer or odder Dojo might send."""
        with self._lock:
            self._intents[str(body["id"])] = body
        return body

    def fail_next(self, count: int, status: int = 503, *, retry_after: float | None = None) -> None:
        with self._lock:
            self._faults.failures.extend([(status, retry_after)] * count)

    def stall(self, seconds: float) -> None:
        """Every answer from now on waits this long (or until its caller hangs up)."""
        with self._lock:
            self._faults.stall = seconds

    def reset_faults(self) -> None:
        with self._lock:
            self._faults = _Faults()

    # -- what a test reads -----------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    @property
    def violations(self) -> list[str]:
        with self._lock:
            return list(self._violations)

    def events(self) -> list[str]:
        """The orderIds of the POS events Dojo accepted, in order."""
        return [
            call.body["event"]["orderId"]
            for call in self.calls
            if (call.method, call.path, call.status) == ("POST", "/epos/events", 200)
        ]

    def registrations(self) -> list[Any]:
        return [
            call.body for call in self.calls if (call.method, call.path) == ("PUT", "/epos/integrations/rest")
        ]

    def ws_registrations(self) -> list[Any]:
        return [
            call.body for call in self.calls if (call.method, call.path) == ("PUT", "/epos/integrations/ws")
        ]

    # `timeout=` rather than asyncio.timeout(): on expiry the failure names what did arrive.
    async def wait_for_calls(self, count: int, timeout: float = 5.0) -> list[Call]:  # noqa: ASYNC109
        return await poll(lambda: self.calls, count, timeout, "calls")

    async def wait_for_events(self, count: int, timeout: float = 5.0) -> list[str]:  # noqa: ASYNC109
        return await poll(self.events, count, timeout, "events")

    # -- the pipeline every call goes through ----------------------------------------------------

    def _route(self, template: str, method: str, handler: Handler) -> Route:
        return Route(template, self._endpoint(template, handler), methods=[method])

    def _endpoint(self, template: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            call, stall, failure = self._record(request, await _body(request))
            if not await self._stall_out(request, stall):
                return self._answer(call, None, (499, None))
            if failure is not None:
                status, retry_after = failure
                headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
                return self._answer(call, headers, (status, _problem(status, "an injected failure")))
            return self._answer(call, None, await self._serve(request, template, call, handler))

        return endpoint

    def _record(self, request: Request, body: Any) -> tuple[Call, float, tuple[int, float | None] | None]:
        call = Call(
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            headers={name.lower(): value for name, value in request.headers.items()},
            body=None if body is _NOT_JSON else body,
            at=datetime.now(UTC),
        )
        # Read the faults in the same breath as recording, so a test that waits for this call
        # and then resets the faults knows exactly which calls they applied to.
        with self._lock:
            self._calls.append(call)
            failure = self._faults.failures.popleft() if self._faults.failures else None
            return call, self._faults.stall, failure

    async def _stall_out(self, request: Request, seconds: float) -> bool:
        """False when the caller hung up while we stalled."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self._stopping.is_set():
            if await request.is_disconnected():
                return False
            await asyncio.sleep(0.005)
        return True

    async def _serve(self, request: Request, template: str, call: Call, handler: Handler) -> Answer:
        if not self._authorized(call.headers):
            detail = "send Authorization: Basic <key>, version and software-house-id"
            return 401, _problem(401, detail)
        if call.body is None and request.method in ("POST", "PUT"):
            return 400, _problem(400, "the body is not JSON")
        spec = dojo_spec()
        errors = spec.request_errors(template, request.method, call.body) if spec else []
        if errors:
            with self._lock:
                self._violations.extend(f"{request.method} {call.path}: {e}" for e in errors)
            return 400, _problem(400, "; ".join(errors))
        return await handler(request, call.body)

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        return (
            headers.get("authorization") == f"Basic {self.api_key}"
            and bool(headers.get("version"))
            and bool(headers.get("software-house-id"))
        )

    def _answer(self, call: Call, headers: dict[str, str] | None, answer: Answer) -> Response:
        status, body = answer
        with self._lock:
            call.status = None if status == 499 else status
        return JSONResponse(body, status_code=status, headers=headers)

    # -- Dojo's operations -----------------------------------------------------------------------

    async def _payment_intent(self, request: Request, body: Any) -> Answer:
        with self._lock:
            intent = self._intents.get(request.path_params["paymentIntentId"])
        canceled_too = request.query_params.get("returnCanceled", "").lower() == "true"
        if intent is None or (intent.get("status") == "Canceled" and not canceled_too):
            return 404, _problem(404, "payment intent not found")
        return 200, intent

    async def _event(self, request: Request, body: Any) -> Answer:
        return 200, body

    async def _register_rest(self, request: Request, body: Any) -> Answer:
        now = iso(datetime.now(UTC))
        with self._lock:
            created = self._rest["createdAt"] if self._rest else now  # a PUT replaces, it is not new
            self._rest = {
                "url": body["url"],
                "capabilities": [{**c, "updatedAt": now} for c in body["capabilities"]],
                "auth": {"authType": "basic", "basic": {"username": _username(body["auth"])}},
                "createdAt": created,
            }
            return 200, [self._rest]

    async def _register_ws(self, request: Request, body: Any) -> Answer:
        """No URL and no auth, unlike REST: the socket the POS dials is the route."""
        now = iso(datetime.now(UTC))
        with self._lock:
            created = self._ws["createdAt"] if self._ws else now  # a PUT replaces, it is not new
            capabilities = [{**c, "updatedAt": now} for c in body["capabilities"]]
            self._ws = {"capabilities": capabilities, "createdAt": created}
            return 200, [self._ws]

    async def _ws_integrations(self, request: Request, body: Any) -> Answer:
        with self._lock:
            return 200, [self._ws] if self._ws else []

    async def _integrations(self, request: Request, body: Any) -> Answer:
        with self._lock:
            rest = [self._rest] if self._rest else []
            ws = [self._ws] if self._ws else []
        return 200, {"restIntegrations": rest, "wsIntegrations": ws}


def _username(auth: Mapping[str, Any]) -> str:
    basic = auth.get("basic")  # optional in RestAuthRequest, though Dojo cannot call us without it
    return str(basic.get("username", "")) if isinstance(basic, Mapping) else ""


async def _unknown(request: Request, body: Any) -> Answer:
    return 404, _problem(404, f"no operation {request.method} {request.url.path}")


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _NOT_JSON


def _problem(status: int, detail: str) -> dict[str, Any]:
    """Dojo's errors: RFC 7807 ProblemDetails, with the traceId its docs show."""
    titles = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}
    return {
        "type": f"https://httpstatuses.io/{status}",
        "title": titles.get(status, "Service Unavailable" if status >= 500 else "Error"),
        "status": status,
        "detail": detail,
        "traceId": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01",
    }


async def poll(read: Callable[[], list[T]], count: int, seconds: float, what: str) -> list[T]:
    """Wait until `read` returns at least `count` things; fail naming what did come."""
    deadline = time.monotonic() + seconds
    while len(seen := read()) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds}s for {count} {what}, got {len(seen)}: {seen}")
        await asyncio.sleep(0.01)
    return seen


@pytest.fixture(name="fake_dojo")  # named, so that it still registers if imported under an alias
def fake_dojo() -> Iterator[FakeDojo]:
    fake = FakeDojo()
    fake.start()
    yield fake
    fake.stop()
