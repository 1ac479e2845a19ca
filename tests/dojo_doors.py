"""Dojo's two doors, driven alike for tests/test_dojo_parity.py: one call made over REST (real
HTTP on loopback, Dojo's Basic credentials) or over the socket (a fake Dojo sending the JSON-RPC
frame down the socket the live server dialled), the state a case starts from, what a run leaves
behind, and the normalising of what legitimately differs between two runs.

A call is written once, as the socket's `params` (the body's fields and the path's values) and
the requestor headers in camelCase; for REST the path values go into Dojo's route and the rest
becomes the JSON body. The routes and header names below are Dojo's (epos-data-api.openapi.json
and .asyncapi.yml), written here rather than read from server/dojo/operations.py, so that a route
or a header the table gets wrong fails here.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol
from urllib.parse import quote

import httpx
import orjson
from sqlalchemy import select
from sqlmodel import SQLModel

from server.actors import POS, Actor
from server.broker.memory import MemoryBroker
from server.dojo import contract
from server.lifecycle import OrderStatus
from server.metrics import Metrics
from server.models import ORDERS
from server.payments.model import Event
from server.services import Services
from server.store import Store, create_store
from server.venue import parse
from tests.conftest import LiveServer, dojo_client
from tests.fake_dojo_ws import FakeDojoWs

ROUTES: Final = {
    "CreateOrderV1": ("POST", "/v1/orders"),
    "GetOrderByIdV1": ("GET", "/v1/orders/{orderId}"),
    "CancelOrderByIdV1": ("DELETE", "/v1/orders/{orderId}"),
    "SearchOrdersV1": ("POST", "/v1/orders/search"),
    "HandleEventV1": ("POST", "/v1/events"),
    "CreateOrderLockV1": ("POST", "/v1/orders/{orderId}/lock"),
    "DeleteOrderLockV1": ("DELETE", "/v1/orders/{orderId}/locks/{lockId}"),
    "ExtendOrderLockV1": ("PUT", "/v1/orders/{orderId}/locks/{lockId}"),
    "GetOrderBillByIdV1": ("GET", "/v1/orders/{orderId}/bill"),
    "RecordOrderPaymentByIdV1": ("POST", "/v1/orders/{orderId}/record-payment"),
    "ListAreasV1": ("GET", "/v1/areas"),
    "SearchTablesV1": ("POST", "/v1/tables/search"),
}
# The requestor headers: REST's names for the socket's `params.headers`.
REQUESTOR: Final = {
    "waiterId": "waiter-id",
    "dojoRequestingProduct": "dojo-requesting-product",
    "deviceId": "device-id",
    "deviceType": "device-type",
}
START: Final = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
# What a run may not wipe: the socket's lease (the server holds it), and the venue's stations
# and routing rules (from the migrations; no case changes them).
KEPT: Final = frozenset({"dojo_socket", "stations", "routing_rules"})


class SetClock:
    """The server's clock and the setup's: set back to START before each run, so both runs of a
    case see the same instants, and moved on only by the setup."""

    def __init__(self) -> None:
        self.at = START

    def now(self) -> datetime:
        return self.at


@dataclass(frozen=True)
class Doors:
    server: LiveServer
    fake: FakeDojoWs  # Dojo, over the socket the server dialled
    clock: SetClock
    rest: httpx.AsyncClient  # Dojo over REST, each answer checked against Dojo's contract
    services: Services  # for the setup and the aftermath: the server's database, the same clock


@asynccontextmanager
async def open_doors(server: LiveServer, fake: FakeDojoWs, clock: SetClock) -> AsyncIterator[Doors]:
    store = create_store(server.settings)
    services = Services.build(
        server.settings, store=store, broker=MemoryBroker(), clock=clock, metrics=Metrics()
    )
    try:
        async with dojo_client(server) as rest:
            yield Doors(server, fake, clock, rest, services)
    finally:
        await store.close()


@dataclass(frozen=True)
class Answer:
    ok: bool  # a result, not an EPOSError
    body: Any
    status: int | None = None  # REST's; the socket has none


class Door(Protocol):
    async def __call__(
        self, doors: Doors, method: str, params: Mapping[str, Any], headers: Mapping[str, str]
    ) -> Answer: ...


async def over_rest(
    doors: Doors, method: str, params: Mapping[str, Any], headers: Mapping[str, str]
) -> Answer:
    verb, route = ROUTES[method]
    names = re.findall(r"\{(\w+)\}", route)
    path = route.format(**{name: quote(params[name], safe="") for name in names})
    body = {name: value for name, value in params.items() if name not in names}
    sent = {REQUESTOR[name]: value for name, value in headers.items()}
    content = None
    if verb in ("POST", "PUT"):
        # Not orjson, which cannot write an integer past 64 bits; compact, as the socket's body is.
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        sent["content-type"] = "application/json"
    response = await doors.rest.request(verb, path, content=content, headers=sent)
    return Answer(response.status_code == 200, response.json(), response.status_code)


async def over_socket(
    doors: Doors, method: str, params: Mapping[str, Any], headers: Mapping[str, str]
) -> Answer:
    frame = await doors.fake.call(method, {"headers": dict(headers), **params})
    return Answer(True, frame["result"]) if "result" in frame else Answer(False, frame["error"])


# -- the state a case starts from ---------------------------------------------------------------


@dataclass
class World:
    """Made through the service layer by the POS itself, not through either door, on the server's
    database and clock. `names` are what a case's params say as `$name`."""

    services: Services
    clock: SetClock
    names: dict[str, Any] = field(default_factory=dict)

    async def place(self, name: str, body: Mapping[str, Any]) -> str:
        """An order, placed a second after the last, so a search lists them in placing order."""
        self.clock.at += timedelta(seconds=1)
        draft = contract.CreateOrderRequest.model_validate_json(orjson.dumps(body))
        self.names[name] = (await self.services.orders.place(draft, by=POS)).id
        return str(self.names[name])

    async def move(self, name: str, status: OrderStatus) -> None:
        await self.services.orders.move(self.names[name], status, by=Actor.staff("chef"))

    async def lock(self, name: str, lock_id: str) -> None:
        """Dojo's lock on the order, for the next five minutes."""
        expiry = self.clock.at + timedelta(minutes=5)
        await self.services.cashier.lock(self.names[name], lock_id=lock_id, expiry=expiry, by=POS)

    async def event(self, body: Mapping[str, Any]) -> None:
        await self.services.cashier.handle_event(Event.model_validate_json(orjson.dumps(body)), by=POS)

    async def floor(self, venue_file: str) -> None:
        """The floor of a venue file, laid as `orderpass venue load` lays it."""
        await self.services.floor.replace_all(parse(venue_file).floor, by=POS)

    def remember(self, answer: Answer) -> None:
        """A result's cursors and id, for the next call of the case: `$after`, `$before`, `$id`."""
        if answer.ok and isinstance(answer.body, dict):
            self.names.update({key: answer.body.get(key) for key in ("after", "before", "id")})

    def resolve(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("$"):
            return self.names[value[1:]]
        if isinstance(value, dict):
            return {key: self.resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        return value

    async def aftermath(self) -> Any:
        """What the run left behind, as JSON: every order as Dojo reads it, with its lock and its
        history (requestor headers and all), the payments no order holds, and what Dojo is owed."""
        services = self.services
        async with services.store.read() as tx:
            found = await tx.execute(select(ORDERS.c.id).order_by(ORDERS.c.created_at, ORDERS.c.id))
            ids = list(found.scalars())
        histories = await services.orders.histories(ids)
        orders = [
            {"order": contract.order(order), "lock": order.lock, "history": histories[order.id]}
            for order in await services.orders.get_many(ids)
        ]
        owed = (await services.orders.owed_to_dojo()).owed
        unmatched = await services.cashier.unmatched()
        return orjson.loads(orjson.dumps({"orders": orders, "unmatched": unmatched, "owed": owed}))


async def fresh_world(doors: Doors) -> World:
    """The database as migrated (the lease and the stations aside), the clock back at START."""
    await wipe(doors.services.store)
    doors.clock.at = START
    return World(doors.services, doors.clock)


async def wipe(store: Store) -> None:
    async with store.write() as tx:
        for table in reversed(SQLModel.metadata.sorted_tables):
            if table.name not in KEPT:
                await tx.execute(table.delete())


# -- what legitimately differs between two runs -------------------------------------------------

ORDER_ID: Final = re.compile(r"\bord_[a-z2-7]{20}\b")  # server/orders/service.new_order_id


class Normaliser:
    """Order ids are drawn at random: each becomes `<order N>`, numbered as first seen, in any
    string (a message naming one too) and inside cursors, which carry the last order's id. A
    traceId is random per call. Nothing else is touched: timestamps come from the shared clock."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: self._field(key, item) for key, item in value.items()}
        if isinstance(value, list):
            return [self(item) for item in value]
        if isinstance(value, str):
            return ORDER_ID.sub(self._order, value)
        return value

    def _field(self, key: str, value: Any) -> Any:
        if key == "traceId":
            return "<trace>"
        if key in ("after", "before") and isinstance(value, str):
            return {"cursor": self(_cursor(value))}
        return self(value)

    def _order(self, found: re.Match[str]) -> str:
        return self.seen.setdefault(found.group(), f"<order {len(self.seen) + 1}>")


def _cursor(text: str) -> Any:
    """A cursor's content (server/paging.encode: created_at, the last id, the search's scope)."""
    try:
        return orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        return text
