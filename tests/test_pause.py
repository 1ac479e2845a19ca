"""Pausing Dojo's ordering, in-process on the real store: what a pause refuses and what it never
does, who may pause, the automatic resume (by the test's clock) recorded once however many
processes try, the audit history, the copy CreateOrder reads from memory, and the schema's side."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from schema import build_schema
from server.actors import POS, Actor
from server.broker.memory import MemoryBroker
from server.clock import ManualClock
from server.errors import Forbidden, InvalidRequest, OrderingPaused
from server.ordering.model import DojoProduct, OrderingChangeKind, product_of
from server.ordering.service import Ordering
from server.services import Services
from server.settings import Settings
from server.staff.roles import Role
from server.store import Store, create_store
from tests.conftest import as_staff
from tests.factories import make_draft

P = DojoProduct
LEAD = Actor.staff("lead", Role.KITCHEN)
VIEWER = Actor.staff("wallboard", Role.VIEWER)
ORDER_AND_PAY = Actor.dojo({"dojo-requesting-product": "Order&Pay", "device-type": "Mobile Web"})
QR = Actor.dojo({"dojo-requesting-product": "QR"})
PAY_AT_TABLE = Actor.dojo({"dojo-requesting-product": "Pay at Table", "device-type": "Dojo Terminal"})
NO_HEADER = Actor.dojo({})


@pytest.fixture
def ordering(services: Services) -> Ordering:
    return services.ordering


# -- the rules, as data -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "product"),
    [("Order&Pay", P.ORDER_AND_PAY), ("Order & Pay", P.ORDER_AND_PAY), ("order-and-pay", P.ORDER_AND_PAY),
     ("QR", P.QR), ("qr code", P.QR), ("Pay at Table", P.PAY_AT_TABLE), ("PayAtTable", P.PAY_AT_TABLE),
     ("Kiosk", None), ("", None), (None, None)],
)  # fmt: skip
def test_the_requesting_product_is_read_however_dojo_spells_it(header, product):
    assert product_of(header) is product


# -- what a pause refuses, and what it never does ---------------------------------------------------


async def test_a_paused_product_is_refused_in_the_venues_time_until_its_time_is_up(
    services: Services, clock: ManualClock
):
    await services.ordering.pause([P.ORDER_AND_PAY], 10, by=LEAD)
    with pytest.raises(OrderingPaused) as refused:
        await services.orders.place(make_draft(), by=ORDER_AND_PAY)
    # 12:00 UTC on 27 November is 12:00 in London (GMT); the message is the customer's to read
    assert (
        refused.value.message == "The kitchen has paused new orders until 12:10 GMT. Please try again then."
    )
    assert refused.value.until == clock.now() + timedelta(minutes=10)
    clock.advance(timedelta(minutes=9, seconds=59))
    with pytest.raises(OrderingPaused):
        await services.orders.place(make_draft(), by=ORDER_AND_PAY)
    clock.advance(timedelta(seconds=1))  # `now < until` no longer: taken, before anyone records the end
    placed = await services.orders.place(make_draft(), by=ORDER_AND_PAY)
    assert placed.requesting_product == "Order&Pay"


async def test_a_pause_until_resumed_says_so_and_ends_when_resumed(services: Services, clock: ManualClock):
    await services.ordering.pause([P.QR], None, by=LEAD)
    clock.advance(timedelta(days=2))
    with pytest.raises(OrderingPaused, match=r"paused new orders for now\. Please try again later"):
        await services.orders.place(make_draft(), by=QR)
    await services.ordering.resume([P.QR], by=LEAD)
    assert (await services.orders.place(make_draft(), by=QR)).status.value == "New"


async def test_a_retry_of_an_order_placed_before_the_pause_still_returns_it(services: Services):
    draft = make_draft()
    before = await services.orders.place(draft, by=ORDER_AND_PAY)
    await services.ordering.pause([P.ORDER_AND_PAY, P.QR], 30, by=LEAD)
    assert await services.orders.place(draft, by=ORDER_AND_PAY) == before
    with pytest.raises(OrderingPaused):  # but a new one is refused
        await services.orders.place(make_draft(), by=ORDER_AND_PAY)


async def test_other_products_staff_and_unnamed_callers_are_never_paused(services: Services):
    await services.ordering.pause([P.ORDER_AND_PAY], 20, by=LEAD)
    kiosk, office = Actor.dojo({"dojo-requesting-product": "Kiosk"}), Actor.staff("office", Role.ADMIN)
    for actor in (QR, PAY_AT_TABLE, NO_HEADER, kiosk, office):
        assert (await services.orders.place(make_draft(), by=actor)).status.value == "New"


async def test_one_refusal_in_a_batch_leaves_the_others_placed(services: Services):
    await services.ordering.pause([P.ORDER_AND_PAY], 10, by=LEAD)
    outcomes = await asyncio.gather(
        services.orders.place(make_draft(), by=ORDER_AND_PAY),
        services.orders.place(make_draft(), by=PAY_AT_TABLE),
        services.orders.place(make_draft(), by=QR),
        return_exceptions=True,
    )
    assert [type(outcome).__name__ for outcome in outcomes] == ["OrderingPaused", "Order", "Order"]


# -- who may pause, and what ------------------------------------------------------------------------


async def test_pay_at_table_is_never_paused_it_only_pays_existing_orders(ordering: Ordering):
    with pytest.raises(InvalidRequest, match="Pay at Table only pays orders already placed") as refused:
        await ordering.pause([P.ORDER_AND_PAY, P.PAY_AT_TABLE], 10, by=LEAD)
    assert refused.value.field == "products"
    assert (await ordering.current()).pauses == ()


@pytest.mark.parametrize(
    ("products", "minutes", "field"), [([], 10, "products"), ([P.QR], 15, "minutes"), ([P.QR], 0, "minutes")]
)
async def test_a_pause_names_a_product_and_a_length_the_venue_offers(
    ordering: Ordering, products, minutes, field
):
    with pytest.raises(InvalidRequest) as refused:
        await ordering.pause(products, minutes, by=LEAD)
    assert refused.value.field == field


async def test_a_viewer_may_neither_pause_nor_resume_and_an_admin_may(ordering: Ordering):
    with pytest.raises(Forbidden):
        await ordering.pause([P.QR], 10, by=VIEWER)
    with pytest.raises(Forbidden):
        await ordering.resume(by=VIEWER)
    await ordering.pause([P.QR], 10, by=Actor.staff("office", Role.ADMIN))
    assert [pause.product for pause in (await ordering.current()).pauses] == [P.QR]


async def test_pausing_a_paused_product_again_replaces_its_pause(ordering: Ordering, clock: ManualClock):
    await ordering.pause([P.QR], 10, by=LEAD)
    clock.advance(timedelta(minutes=5))
    await ordering.pause([P.QR, P.ORDER_AND_PAY], 30, by=Actor.staff("second-lead", Role.KITCHEN))
    pauses = (await ordering.current()).pauses
    assert {(p.product, p.until, p.by.name) for p in pauses} == {
        (P.QR, clock.now() + timedelta(minutes=30), "second-lead"),
        (P.ORDER_AND_PAY, clock.now() + timedelta(minutes=30), "second-lead"),
    }


# -- the audit history and the automatic resume ---------------------------------------------------


async def test_the_history_says_who_paused_and_resumed_what_newest_first(
    ordering: Ordering, clock: ManualClock
):
    await ordering.pause([P.QR, P.ORDER_AND_PAY], 20, by=LEAD)
    clock.advance(timedelta(minutes=3))
    await ordering.resume([P.QR], by=Actor.staff("manager", Role.ADMIN))
    await ordering.resume([P.QR], by=LEAD)  # not paused any more: nothing to record
    resumed, paused = await ordering.history()
    assert (paused.kind, paused.by.name, paused.products) == (
        OrderingChangeKind.PAUSED,
        "lead",
        (P.ORDER_AND_PAY, P.QR),
    )
    assert paused.until == paused.at + timedelta(minutes=20)
    assert (resumed.kind, resumed.by.name, resumed.products, resumed.until) == (
        OrderingChangeKind.RESUMED, "manager", (P.QR,), None,
    )  # fmt: skip
    assert resumed.at == clock.now()


async def test_a_pause_that_ran_out_is_recorded_once_though_two_processes_end_it_at_once(
    settings: Settings, services: Services, clock: ManualClock
):
    await services.ordering.pause([P.ORDER_AND_PAY, P.QR], 10, by=LEAD)
    until = clock.now() + timedelta(minutes=10)
    clock.advance(timedelta(minutes=10, seconds=3))
    others = [create_store(settings) for _ in range(2)]  # another process's engine each: its own connections
    try:
        processes = [_ordering(store, clock) for store in others]
        ended = await asyncio.gather(
            *(process.end_due() for process in processes), services.ordering.end_due()
        )
    finally:
        for store in others:
            await store.close()
    assert sorted(len(found) for found in ended) == [0, 0, 1]
    history = await services.ordering.history()
    assert [
        (c.kind, c.by, c.products, c.at, c.until) for c in history if c.kind is not OrderingChangeKind.PAUSED
    ] == [(OrderingChangeKind.AUTO_RESUMED, POS, (P.ORDER_AND_PAY, P.QR), until, until)]
    assert await services.ordering.end_due() == []  # and never again
    assert (await services.ordering.current()).pauses == ()


async def test_what_ran_out_goes_in_the_history_before_what_came_next(ordering: Ordering, clock: ManualClock):
    await ordering.pause([P.QR], 10, by=LEAD)
    clock.advance(timedelta(minutes=25))  # nobody looked meanwhile (the worker was down, say)
    await ordering.pause([P.ORDER_AND_PAY], None, by=LEAD)
    kinds = [(c.kind, c.products) for c in reversed(await ordering.history())]
    assert kinds == [
        (OrderingChangeKind.PAUSED, (P.QR,)),
        (OrderingChangeKind.AUTO_RESUMED, (P.QR,)),
        (OrderingChangeKind.PAUSED, (P.ORDER_AND_PAY,)),
    ]


async def test_the_worker_ends_a_pause_on_time_by_the_apps_clock(store: Store, clock: ManualClock):
    ordering = _ordering(store, clock, every=0.02)
    await ordering.start()
    try:
        await ordering.pause([P.QR], 10, by=LEAD)
        await asyncio.sleep(0.1)  # the worker looks five times: nothing has run out
        assert await _kinds(ordering) == [OrderingChangeKind.PAUSED]
        clock.advance(timedelta(minutes=10))
        await _until(lambda: _kinds(ordering), [OrderingChangeKind.AUTO_RESUMED, OrderingChangeKind.PAUSED])
    finally:
        await ordering.stop()


# -- the copy CreateOrder reads -------------------------------------------------------------------


async def test_with_nothing_paused_placing_orders_reads_no_pauses(services: Services, store: Store):
    await services.ordering.gate()  # the copy, read once
    statements: list[str] = []
    event.listen(store.engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    await asyncio.gather(*(services.orders.place(make_draft(), by=ORDER_AND_PAY) for _ in range(20)))
    assert [s for s in statements if "ordering_pauses" in s] == []


async def test_a_pause_in_one_process_reaches_anothers_copy_through_the_broker(
    settings: Settings, services: Services, broker: MemoryBroker, clock: ManualClock
):
    other_store = create_store(settings)
    other = _ordering(other_store, clock, broker=broker, fresh_for=3600)  # only the broker can tell it
    await other.start()
    try:
        await other.gate()
        await services.ordering.pause([P.ORDER_AND_PAY], 10, by=LEAD)
        await _until(lambda: _paused(other), [P.ORDER_AND_PAY])
        await services.ordering.resume(by=LEAD)
        await _until(lambda: _paused(other), [])
    finally:
        await other.stop()
        await other_store.close()


async def test_without_a_broker_another_process_sees_a_pause_once_its_copy_is_stale(
    settings: Settings, services: Services, clock: ManualClock
):
    other_store = create_store(settings)
    other = _ordering(other_store, clock, fresh_for=0.2)  # its own broker: nothing crosses
    try:
        assert await _paused(other) == []
        await services.ordering.pause([P.QR], 20, by=LEAD)
        assert await _paused(other) == []  # its copy is fresh still
        await asyncio.sleep(0.25)
        assert await _paused(other) == [P.QR]
    finally:
        await other_store.close()


# -- the schema's side --------------------------------------------------------------------------

PAUSE = """mutation($products: [DojoProduct!]!, $minutes: Int) { pauseOrdering(products: $products, minutes: $minutes) {
  __typename ... on Ordering { pauses { product label until secondsLeft pausedAt by { kind name } } durations pausable }
  ... on InvalidInput { field message } ... on Problem { message } } }"""
RESUME = "mutation { resumeOrdering { __typename ... on Ordering { pauses { product } } } }"


@pytest.fixture
def run(services: Services) -> Any:
    schema = build_schema()

    async def execute(document: str, as_: Actor = LEAD, **variables: Any) -> dict[str, Any]:
        result = await schema.execute(
            document, variable_values=variables, context_value=as_staff(services, as_)
        )
        assert result.errors is None, result.errors
        assert result.data is not None
        return result.data

    return execute


async def test_pause_ordering_answers_the_pauses_with_who_when_and_until(run, clock: ManualClock):
    data = (await run(PAUSE, products=["QR"], minutes=30))["pauseOrdering"]
    assert data == {
        "__typename": "Ordering",
        "pauses": [
            {
                "product": "QR",
                "label": "QR ordering",
                "until": (clock.now() + timedelta(minutes=30)).isoformat(),
                "secondsLeft": 1800,
                "pausedAt": clock.now().isoformat(),
                "by": {"kind": "STAFF", "name": "lead"},
            }
        ],
        "durations": [10, 20, 30],
        "pausable": ["ORDER_AND_PAY", "QR"],
    }
    clock.advance(timedelta(minutes=29, seconds=30))
    assert (await run("{ ordering { pauses { secondsLeft } } }"))["ordering"]["pauses"] == [
        {"secondsLeft": 30}
    ]
    assert (await run(RESUME))["resumeOrdering"] == {"__typename": "Ordering", "pauses": []}
    history = (await run("{ orderingHistory { kind by { name } products until } }"))["orderingHistory"]
    assert [(h["kind"], h["products"]) for h in history] == [("RESUMED", ["QR"]), ("PAUSED", ["QR"])]


@pytest.mark.parametrize(
    ("actor", "variables", "typename", "field"),
    [(LEAD, {"products": ["PAY_AT_TABLE"], "minutes": 10}, "InvalidInput", "products"),
     (LEAD, {"products": ["QR"], "minutes": 45}, "InvalidInput", "minutes"),
     (VIEWER, {"products": ["QR"], "minutes": 10}, "Forbidden", None)],
)  # fmt: skip
async def test_pause_ordering_refuses_with_a_typed_problem(run, actor, variables, typename, field):
    answer = (await run(PAUSE, actor, **variables))["pauseOrdering"]
    assert answer["__typename"] == typename
    assert answer.get("field") == field
    assert (await run("{ ordering { pauses { product } } }", VIEWER))["ordering"]["pauses"] == []


async def test_ordering_changes_says_what_is_paused_at_once_then_on_every_change(services: Services, clock):
    schema = build_schema()
    context = as_staff(services, VIEWER)
    stream: AsyncIterator[Any] = await schema.subscribe(
        "subscription { orderingChanges { pauses { product until } } }", context_value=context
    )
    seen = [await asyncio.wait_for(anext(stream), 5)]
    await services.ordering.pause([P.ORDER_AND_PAY], None, by=LEAD)
    seen.append(await asyncio.wait_for(anext(stream), 5))
    await services.ordering.resume(by=LEAD)
    seen.append(await asyncio.wait_for(anext(stream), 5))
    await stream.aclose()  # type: ignore[attr-defined]
    assert [result.errors for result in seen] == [None, None, None]
    assert [result.data["orderingChanges"]["pauses"] for result in seen] == [
        [],
        [{"product": "ORDER_AND_PAY", "until": None}],
        [],
    ]


# -- helpers ------------------------------------------------------------------------------------


def _ordering(
    store: Store, clock: ManualClock, *, broker: MemoryBroker | None = None, **options: Any
) -> Ordering:
    """Another process's Ordering service on the same database."""
    return Ordering(
        store=store, broker=broker or MemoryBroker(), clock=clock, timezone="Europe/London", minutes=(10, 20, 30),
        **options,
    )  # fmt: skip


async def _paused(ordering: Ordering) -> list[DojoProduct]:
    return [pause.product for pause in (await ordering.gate()).pauses.pauses]


async def _kinds(ordering: Ordering) -> list[OrderingChangeKind]:
    return [change.kind for change in await ordering.history()]


async def _until(read: Any, expected: Any, seconds: float = 5) -> None:
    found = None
    for _ in range(int(seconds / 0.02)):
        found = await read()
        if found == expected:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never {expected!r}; last {found!r}")
