"""Dojo's two doors answer alike. Every case of one table runs over REST and over the socket (the
same live server, dialling a fake Dojo that sends the JSON-RPC frame), each time from the same
fresh state, and must give the same result JSON or the same EPOSError (type and message; REST's
status is the case's), and leave the same orders, history and payments behind, the requestor
headers in the history included. tests/dojo_doors.py drives the doors and says what is normalised.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import pytest
import pytest_asyncio

from server.dojo.operations import OPERATIONS
from server.lifecycle import OrderStatus
from server.settings import Settings
from server.text import NUL_REFUSED
from tests.conftest import BACKENDS, LiveServer, fresh_database, start_server
from tests.dojo_doors import (
    REQUESTOR,
    ROUTES,
    START,
    Answer,
    Door,
    Doors,
    Normaliser,
    SetClock,
    World,
    fresh_world,
    open_doors,
    over_rest,
    over_socket,
)
from tests.factories import item, make_order, money, payment_event
from tests.fake_dojo import FakeDojo
from tests.fake_dojo_ws import FakeDojoWs
from tests.processes import DOJO_AUTH
from tests.test_dojo_socket import socket_settings

DEVICE: Final = MappingProxyType(
    {
        "waiterId": "becky",
        "dojoRequestingProduct": "Order&Pay",
        "deviceId": "TID-0042",
        "deviceType": "Terminal",
    }
)
# Where each requestor header lands in the order's history (server/actors.Actor).
HISTORY_FIELDS: Final = {"waiterId": "waiter_id", "dojoRequestingProduct": "requesting_product",
                         "deviceId": "device_id", "deviceType": "device_type"}  # fmt: skip
LATER: Final = "2026-11-27T12:05:00.000Z"  # five minutes after the clock's start
BODY_LIMIT: Final = 16_384  # ORDERPASS_MAX_BODY_BYTES, small: a body over it is cheap to send
NULL_REFUSED: Final = "Input should be a valid string, not null"  # a string field sent as null


@dataclass(frozen=True)
class Step:
    method: str
    # The socket's params (path values and body); `$name` is a value the setup or an earlier step gave.
    params: Mapping[str, Any]
    status: int  # what REST answers; the socket answers a result for 200, else an EPOSError
    says: str = ""  # in the EPOSError's debugMessage


@dataclass(frozen=True)
class Case:
    name: str
    steps: tuple[Step, ...]
    given: Callable[[World], Awaitable[None]] | None = None
    headers: Mapping[str, str] = field(default_factory=lambda: DEVICE)  # requestor headers, on every step


def case(
    name: str,
    method: str,
    params: Mapping[str, Any],
    status: int = 200,
    says: str = "",
    *,
    given: Callable[[World], Awaitable[None]] | None = None,
    headers: Mapping[str, str] = DEVICE,
) -> Case:
    return Case(name, (Step(method, params, status, says),), given, headers)


# -- what the cases start from ------------------------------------------------------------------


def order(n: int, *, paid: bool = True, table: str = "5", **overrides: Any) -> dict[str, Any]:
    """Dojo's order n (tests/factories.make_order), with ids of its own, paid or not."""
    payments = [{"paymentIntentId": f"pi_parity_{n}", "paidAmount": money(3130), "tipsAmount": money(200)}]
    details = {"orderType": "DineIn", "dineIn": {"tableId": table, "waiterId": "becky"}}
    return make_order(dojoOrderId=f"parity-{n}", reference=f"P-{n:04d}", details=details,
                      payments=payments if paid else [], **overrides)  # fmt: skip


def padded(params: Mapping[str, Any]) -> dict[str, Any]:
    """The params with a field no model reads, enough to put the body over the limit."""
    return {**params, "padding": "x" * BODY_LIMIT}


def captured(intent: str, n: int = 1, status: str = "Captured") -> dict[str, Any]:
    """Dojo's event n on a payment intent, n seconds after the clock's start."""
    return payment_event(intent, status, at=START + timedelta(seconds=n), event_id=f"evt_parity_{n}")


ORDERS: Final = {n: order(n) for n in range(1, 4)}
UNPAID: Final = {n: order(n, paid=False) for n in range(1, 4)}
VENUE: Final = """
[[station]]
id = "kitchen"
default = true

[[area]]
id = "downstairs"
name = "Downstairs"
waiters = ["becky"]

[[area]]
id = "terrace"
name = "Terrace"

[[table]]
id = "t1"
name = "Table 1"
area = "downstairs"
max_covers = 4
waiters = ["becky"]

[[table]]
id = "t2"
name = "Table 2"
area = "downstairs"
waiters = ["becky", "sam"]

[[table]]
id = "t3"
name = "Palm"
area = "terrace"
max_covers = 2
waiters = ["sam"]

[[table]]
id = "t4"
name = "Fig"
area = "terrace"
waiters = ["becky"]
"""


async def placed(world: World) -> None:
    await world.place("order", ORDERS[1])


async def unpaid(world: World) -> None:
    await world.place("order", UNPAID[1])


async def locked(world: World) -> None:
    await world.place("order", UNPAID[1])
    await world.lock("order", "lock-theirs")


async def accepted(world: World) -> None:
    await placed(world)
    await world.move("order", OrderStatus.ACCEPTED)


async def canceled(world: World) -> None:
    await unpaid(world)
    await world.move("order", OrderStatus.CANCELED)


async def three_orders(world: World) -> None:
    await world.place("first", UNPAID[1])
    await world.place("second", ORDERS[2])
    await world.place("third", order(3, paid=False, table="9"))


async def floor(world: World) -> None:
    await world.floor(VENUE)


async def event_seen(world: World) -> None:
    await placed(world)
    await world.event(captured("pi_parity_1"))


# -- the table ----------------------------------------------------------------------------------

PLACED = "$order"  # the order the setup placed
# fmt: off
CASES: Final = (
    # CreateOrder
    case("create a new order", "CreateOrderV1", ORDERS[1]),
    case("create as Dojo with no requestor headers", "CreateOrderV1", ORDERS[1], headers={}),
    case("create a retry answers the order placed", "CreateOrderV1", ORDERS[1], given=placed),
    case("create the same dojoOrderId with another body", "CreateOrderV1", {**ORDERS[1], "note": "no"}, 409,
         "already used", given=placed),
    case("create without items", "CreateOrderV1", {k: v for k, v in ORDERS[1].items() if k != "items"}, 400,
         "items"),
    case("create without payments", "CreateOrderV1", {k: v for k, v in ORDERS[1].items() if k != "payments"},
         400, "payments"),
    case("create a quantity as a string", "CreateOrderV1",
         order(1, items=[{**item("Tea", 100), "quantity": "2"}]), 400, "items.0.quantity"),
    case("create in two currencies", "CreateOrderV1", order(1, totalAmount=money(3130, "EUR")), 400,
         "one currency"),
    case("create with a NUL in the note", "CreateOrderV1", order(1, note="nuts\x00"), 400, NUL_REFUSED),
    case("create an amount beyond int64", "CreateOrderV1", order(1, totalAmount=money(2**70)), 400,
         "totalAmount.value"),
    case("create a body over the limit", "CreateOrderV1", order(1, note="x" * BODY_LIMIT), 413,
         f"over the {BODY_LIMIT}-byte limit"),
    # An optional field is left out or has a value: null is refused, naming the field (NULL_REFUSED)
    case("create with a null note", "CreateOrderV1", {**ORDERS[1], "note": None}, 400, f"note: {NULL_REFUSED}"),
    case("create with a null collection beside dineIn", "CreateOrderV1", {**ORDERS[1], "details":
         {"orderType": "DineIn", "dineIn": {"tableId": "5"}, "collection": None}}, 400,
         "details.collection: Input should be an object, not null"),
    case("create with a null tableId", "CreateOrderV1", {**ORDERS[1], "details": {"orderType": "DineIn", "dineIn":
         {"tableId": None}}}, 400, f"details.dineIn.tableId: {NULL_REFUSED}"),
    case("create with a null tipsAmount", "CreateOrderV1", {**ORDERS[1], "payments": [
         {"paymentIntentId": "pi_parity_1", "paidAmount": money(3130), "tipsAmount": None}]}, 400,
         "payments.0.tipsAmount: Input should be an object, not null"),
    case("create with a null modifiers list", "CreateOrderV1", order(1, items=[{**item("Tea", 100),
         "modifiers": None}]), 400, "items.0.modifiers"),
    # GetOrderById
    case("get an order", "GetOrderByIdV1", {"orderId": PLACED}, given=placed),
    case("get an unknown order", "GetOrderByIdV1", {"orderId": "ord_missing"}, 404, "ord_missing"),
    case("get an order id with a NUL", "GetOrderByIdV1", {"orderId": "ord_\x00"}, 400, NUL_REFUSED),
    # CancelOrderById
    case("cancel a new order", "CancelOrderByIdV1", {"orderId": PLACED}, given=unpaid),
    Case("cancel twice answers the same", (Step("CancelOrderByIdV1", {"orderId": PLACED}, 200),) * 2, unpaid),
    case("cancel an accepted order", "CancelOrderByIdV1", {"orderId": PLACED}, 409, "Dojo may cancel only",
         given=accepted),
    case("cancel an unknown order", "CancelOrderByIdV1", {"orderId": "ord_missing"}, 404, "ord_missing"),
    # SearchOrders
    case("search everything", "SearchOrdersV1", {}, given=three_orders),
    case("search a table, payable only", "SearchOrdersV1", {"dineIn": {"tableId": "5"}, "payableOnly": True},
         given=three_orders),
    Case("search a page, the next and back", (
        Step("SearchOrdersV1", {"cursor": {"limit": 2}}, 200),
        Step("SearchOrdersV1", {"cursor": {"limit": 2, "after": "$after"}}, 200),
        Step("SearchOrdersV1", {"cursor": {"limit": 2, "before": "$before"}}, 200),
    ), three_orders),
    Case("search with another search's cursor", (
        Step("SearchOrdersV1", {"cursor": {"limit": 1}}, 200),
        Step("SearchOrdersV1", {"dineIn": {"tableId": "9"}, "cursor": {"after": "$after"}}, 400, "different search"),
    ), three_orders),
    case("search with a limit over 100", "SearchOrdersV1", {"cursor": {"limit": 101}}, 400, "cursor.limit"),
    case("search with a cursor not ours", "SearchOrdersV1", {"cursor": {"after": "%%%"}}, 400, "cursor.after"),
    case("search with dineIn a string", "SearchOrdersV1", {"dineIn": "5"}, 400, "dineIn"),
    case("search with a null cursor", "SearchOrdersV1", {"cursor": None}, 400,
         "cursor: Input should be an object, not null", given=three_orders),
    case("search with a null limit", "SearchOrdersV1", {"cursor": {"limit": None}}, 400,
         "cursor.limit: Input should be a valid integer, not null", given=three_orders),
    case("search with a null payableOnly", "SearchOrdersV1", {"payableOnly": None}, 400,
         "payableOnly: Input should be a valid boolean, not null", given=three_orders),
    case("search with a body over the limit", "SearchOrdersV1", padded({}), 413, "byte limit"),
    # HandleEvent
    case("event captures an order's payment", "HandleEventV1", captured("pi_parity_1"), given=placed),
    case("event reverses a captured payment", "HandleEventV1", captured("pi_parity_1", 2, "Reversed"),
         given=event_seen),
    case("event seen before", "HandleEventV1", captured("pi_parity_1"), given=event_seen),
    case("event for an intent no order holds", "HandleEventV1", captured("pi_nobody")),
    case("event without a paymentStatus", "HandleEventV1",
         {**captured("pi_x"), "data": {"paymentIntentId": "pi_x", "captureMode": "Auto"}}, 400,
         "paymentStatus"),
    case("event with a NUL in its id", "HandleEventV1", {**captured("pi_x"), "id": "evt\x00"}, 400, NUL_REFUSED),
    case("event with a body over the limit", "HandleEventV1", padded(captured("pi_x")), 413, "byte limit"),
    # CreateOrderLock
    case("lock an order", "CreateOrderLockV1", {"orderId": PLACED, "lockId": "lock-ours", "expiry": LATER},
         given=unpaid),
    case("lock an order locked by another", "CreateOrderLockV1",
         {"orderId": PLACED, "lockId": "lock-ours", "expiry": LATER}, 409, "already locked", given=locked),
    case("lock a canceled order", "CreateOrderLockV1", {"orderId": PLACED, "lockId": "lock-ours", "expiry": LATER},
         409, "Canceled", given=canceled),
    case("lock until the past", "CreateOrderLockV1",
         {"orderId": PLACED, "lockId": "lock-ours", "expiry": "2026-11-27T11:00:00Z"}, 400, "expiry", given=unpaid),
    case("lock without a lockId", "CreateOrderLockV1", {"orderId": PLACED, "expiry": LATER}, 400, "lockId",
         given=unpaid),
    case("lock an unknown order", "CreateOrderLockV1",
         {"orderId": "ord_missing", "lockId": "lock-ours", "expiry": LATER}, 404, "ord_missing"),
    case("lock with a body over the limit", "CreateOrderLockV1",
         padded({"orderId": PLACED, "lockId": "lock-ours", "expiry": LATER}), 413, "byte limit", given=unpaid),
    # DeleteOrderLock
    case("unlock our lock", "DeleteOrderLockV1", {"orderId": PLACED, "lockId": "lock-theirs"}, given=locked),
    case("unlock another's lock", "DeleteOrderLockV1", {"orderId": PLACED, "lockId": "lock-ours"}, 409,
         "locked by another lock", given=locked),
    case("unlock with a NUL in the lockId", "DeleteOrderLockV1", {"orderId": PLACED, "lockId": "lock\x00"}, 400,
         NUL_REFUSED, given=locked),
    case("unlock an unknown order", "DeleteOrderLockV1", {"orderId": "ord_missing", "lockId": "l"}, 404,
         "ord_missing"),
    # ExtendOrderLock
    case("extend our lock", "ExtendOrderLockV1",
         {"orderId": PLACED, "lockId": "lock-theirs", "expiry": "2026-11-27T12:08:00Z"}, given=locked),
    case("extend another's lock", "ExtendOrderLockV1", {"orderId": PLACED, "lockId": "lock-ours", "expiry": LATER},
         409, "already locked", given=locked),
    case("extend until no date", "ExtendOrderLockV1", {"orderId": PLACED, "lockId": "lock-theirs", "expiry": "soon"},
         400, "expiry", given=locked),
    case("extend on an unknown order", "ExtendOrderLockV1",
         {"orderId": "ord_missing", "lockId": "l", "expiry": LATER}, 404, "ord_missing"),
    case("extend with a body over the limit", "ExtendOrderLockV1",
         padded({"orderId": PLACED, "lockId": "lock-theirs", "expiry": LATER}), 413, "byte limit", given=locked),
    # GetOrderBillById
    case("bill an order", "GetOrderBillByIdV1", {"orderId": PLACED}, given=placed),
    case("bill an unknown order", "GetOrderBillByIdV1", {"orderId": "ord_missing"}, 404, "ord_missing"),
    # RecordOrderPaymentById
    case("pay an order", "RecordOrderPaymentByIdV1",
         {"orderId": PLACED, "paymentIntentId": "pi_split_1", "paidAmount": money(1000)}, given=unpaid),
    case("pay a locked order under its lock", "RecordOrderPaymentByIdV1",
         {"orderId": PLACED, "paymentIntentId": "pi_split_1", "paidAmount": money(1000), "tipsAmount": money(100),
          "lockId": "lock-theirs"}, given=locked),
    case("pay a locked order without the lock", "RecordOrderPaymentByIdV1",
         {"orderId": PLACED, "paymentIntentId": "pi_split_1", "paidAmount": money(1000)}, 409,
         "locked for another payment", given=locked),
    case("pay an intent again with other amounts", "RecordOrderPaymentByIdV1",
         {"orderId": PLACED, "paymentIntentId": "pi_parity_1", "paidAmount": money(1)}, 409, "other amounts",
         given=placed),
    case("pay without an amount", "RecordOrderPaymentByIdV1", {"orderId": PLACED, "paymentIntentId": "pi_split_1"},
         400, "paidAmount", given=unpaid),
    case("pay with a null lockId", "RecordOrderPaymentByIdV1",
         {"orderId": PLACED, "paymentIntentId": "pi_split_1", "paidAmount": money(1000), "lockId": None}, 400,
         f"lockId: {NULL_REFUSED}", given=unpaid),
    case("pay an unknown order", "RecordOrderPaymentByIdV1",
         {"orderId": "ord_missing", "paymentIntentId": "pi_split_1", "paidAmount": money(1000)}, 404,
         "ord_missing"),
    case("pay with a body over the limit", "RecordOrderPaymentByIdV1",
         padded({"orderId": PLACED, "paymentIntentId": "pi_split_1", "paidAmount": money(1000)}), 413,
         "byte limit", given=unpaid),
    # ListAreas (no error of its own: it takes nothing)
    case("list the areas", "ListAreasV1", {}, given=floor),
    case("list the areas of a venue without a floor", "ListAreasV1", {}),
    # SearchTables
    case("search every table", "SearchTablesV1", {}, given=floor),
    case("search an area's tables", "SearchTablesV1", {"areaId": "downstairs"}, given=floor),
    case("search a waiter's tables", "SearchTablesV1", {"waiterId": "sam"}, given=floor),
    case("search a waiter's tables in an area", "SearchTablesV1", {"areaId": "terrace", "waiterId": "becky"},
         given=floor),
    Case("search tables page by page", (
        Step("SearchTablesV1", {"waiterId": "becky", "cursor": {"limit": 1}}, 200),
        Step("SearchTablesV1", {"waiterId": "becky", "cursor": {"limit": 1, "after": "$after"}}, 200),
        Step("SearchTablesV1", {"waiterId": "becky", "cursor": {"limit": 1, "after": "$after"}}, 200),
        Step("SearchTablesV1", {"waiterId": "becky", "cursor": {"limit": 1, "before": "$before"}}, 200),
    ), floor),
    Case("search tables with another search's cursor", (
        Step("SearchTablesV1", {"cursor": {"limit": 1}}, 200),
        Step("SearchTablesV1", {"areaId": "terrace", "cursor": {"after": "$after"}}, 400, "different search"),
    ), floor),
    case("search tables with an areaId not a string", "SearchTablesV1", {"areaId": 7}, 400, "areaId",
         given=floor),
    case("search tables with a null areaId", "SearchTablesV1", {"areaId": None}, 400, f"areaId: {NULL_REFUSED}",
         given=floor),
    case("search tables with a null cursor", "SearchTablesV1", {"cursor": None}, 400, "cursor", given=floor),
    case("search tables with a NUL in the waiterId", "SearchTablesV1", {"waiterId": "becky\x00"}, 400,
         NUL_REFUSED, given=floor),
    case("search tables with a body over the limit", "SearchTablesV1", padded({"areaId": "terrace"}), 413,
         "byte limit", given=floor),
)
# fmt: on


# -- the doors, on one live server per backend --------------------------------------------------


# One server, one REST client and one store for every case on a backend (a run wipes the database
# first), on one event loop for the module.
module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, FakeDojoWs, SetClock]]:
    api, fake = FakeDojo(), FakeDojoWs()
    api.start()
    fake.start()
    clock = SetClock()
    folder: Path = tmp_path_factory.mktemp("parity")
    with fresh_database(request, request.param, folder) as url:
        # What the server would send Dojo of its own accord waits an hour (POS events), or asks
        # once at start (the resolver's lookups, on an empty store): a run leaves what Dojo is
        # owed and the payments no order holds as its calls left them, however long it takes.
        settings = Settings(database_url=url, dojo_username=DOJO_AUTH[0], dojo_password=DOJO_AUTH[1],
                            dojo_event_delay_ms=3_600_000, dojo_poll_seconds=3_600, max_body_bytes=BODY_LIMIT,
                            **socket_settings(fake, api))  # fmt: skip
        server = start_server(settings, clock)
        try:
            yield server, fake, clock
        finally:
            server.stop()
            fake.stop()
            api.stop()
    assert fake.violations == [], "answers broke Dojo's WebSocket contract:\n" + "\n".join(fake.violations)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def doors(live: tuple[LiveServer, FakeDojoWs, SetClock]) -> AsyncIterator[Doors]:
    async with open_doors(*live) as doors:
        yield doors


@dataclass(frozen=True)
class Run:
    answers: list[Answer]
    left: Any  # World.aftermath


async def run(doors: Doors, case: Case, door: Door) -> Run:
    world = await fresh_world(doors)
    if case.given is not None:
        await case.given(world)
    answers = []
    for step in case.steps:
        answers.append(await door(doors, step.method, world.resolve(step.params), case.headers))
        world.remember(answers[-1])
    return Run(answers, await world.aftermath())


def seen(outcome: Run) -> Any:
    normalise = Normaliser()
    return normalise([answer.body for answer in outcome.answers]), normalise(outcome.left)


@module_loop
@pytest.mark.parametrize("case", CASES, ids=[c.name.replace(" ", "-") for c in CASES])
async def test_rest_and_the_socket_answer_alike(doors: Doors, case: Case):
    rest, socket = await run(doors, case, over_rest), await run(doors, case, over_socket)
    for step, by_rest, by_socket in zip(case.steps, rest.answers, socket.answers, strict=True):
        assert by_rest.status == step.status, by_rest.body
        assert by_socket.ok is (step.status == 200), by_socket.body
        if not by_rest.ok:
            assert step.says in by_rest.body["debugMessage"]
    assert seen(socket) == seen(rest)
    for entry in (e for o in rest.left["orders"] for e in o["history"] if e["actor"]["kind"] == "dojo"):
        assert {name: entry["actor"][field] for name, field in HISTORY_FIELDS.items()} == {
            name: case.headers.get(name) for name in HISTORY_FIELDS
        }


def test_every_operation_has_cases_of_success_and_of_each_error_it_declares():
    assert set(ROUTES) == {op.method for op in OPERATIONS}
    assert set(REQUESTOR) == set(HISTORY_FIELDS)
    for op in OPERATIONS:
        statuses = {step.status for c in CASES for step in c.steps if step.method == op.method}
        declared = {200, *op.errors}
        assert declared <= statuses, f"{op.method} has no parity case answering {sorted(declared - statuses)}"


LIFE: Final = (
    ("CreateOrderV1", UNPAID[1]),
    ("RecordOrderPaymentByIdV1", {"orderId": "$id", "paymentIntentId": "pi_x", "paidAmount": money(100)}),
    ("CancelOrderByIdV1", {"orderId": "$id"}),
)


@module_loop
async def test_headers_reach_the_history_the_same_through_either_door(doors: Doors):
    entries = {}
    for door in (over_rest, over_socket):
        world = await fresh_world(doors)
        for method, params in LIFE:
            world.remember(await door(doors, method, world.resolve(params), DEVICE))
        [placed] = (await world.aftermath())["orders"]
        actors = [(e["kind"], e["actor"]) for e in placed["history"]]
        entries[door] = [
            (kind, {field: actor[field] for field in HISTORY_FIELDS.values()}) for kind, actor in actors
        ]
    headers = {field: DEVICE[name] for name, field in HISTORY_FIELDS.items()}
    assert entries[over_rest] == [("CREATED", headers), ("PAYMENT_CHANGED", headers), ("CANCELED", headers)]
    assert entries[over_socket] == entries[over_rest]


WALKS: Final = [
    ({}, ["t1", "t2", "t3", "t4"]),
    ({"areaId": "downstairs"}, ["t1", "t2"]),
    ({"waiterId": "becky"}, ["t1", "t2", "t4"]),
    ({"areaId": "terrace", "waiterId": "sam"}, ["t3"]),
]


@module_loop
@pytest.mark.parametrize("door", [over_rest, over_socket], ids=["rest", "socket"])
@pytest.mark.parametrize(("filters", "matches"), WALKS)
async def test_a_walk_of_the_tables_returns_every_match_once(doors: Doors, door: Door, filters, matches):
    await (await fresh_world(doors)).floor(VENUE)
    walked, after = [], None
    while True:
        cursor = {"limit": 1} | ({"after": after} if after else {})
        page = await door(doors, "SearchTablesV1", {**filters, "cursor": cursor}, DEVICE)
        walked += [table["id"] for table in page.body["data"]]
        after = page.body.get("after")
        if after is None:
            break
    assert walked == matches
