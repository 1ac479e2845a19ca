"""The service layer, in-process, on a real SQLite file."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import time
from datetime import timedelta

import orjson
import pytest
from sqlalchemy import select, update

from server.actors import Actor, ActorKind
from server.broker.memory import MemoryBroker
from server.changes.model import CHANNEL, Change, ChangeKind
from server.clock import ManualClock
from server.errors import Conflict, InvalidMove, InvalidRequest, NotFound
from server.lifecycle import OrderStatus
from server.models import ORDERS
from server.money import Money
from server.orders.filters import SearchFilters
from server.orders.model import Order, OrderDraft
from server.orders.service import Orders, new_order_id
from server.payments.cashier import Cashier, EventOutcome
from server.payments.model import Event, PaymentStatus
from server.store import Store
from tests.factories import make_draft, make_order, payment_event

DOJO = Actor.dojo(
    {
        "waiter-id": "42",
        "dojo-requesting-product": "Order&Pay",
        "device-id": "tm_1",
        "device-type": "Dojo Terminal",
    }
)
STAFF = Actor.staff("pass-screen")
S = OrderStatus


def event(*args, **kwargs) -> Event:
    return Event.model_validate_json(orjson.dumps(payment_event(*args, **kwargs)))


# -- placing ------------------------------------------------------------------------------------


async def test_place_stores_the_whole_order_as_new(orders: Orders):
    draft = make_draft()
    placed = await orders.place(draft, by=DOJO)
    assert placed.status is S.NEW
    assert len(placed.id) == 24
    stored = await orders.get(placed.id)
    assert stored.content == draft.content()
    assert stored == placed


async def test_one_order_read_alone_is_the_order_read_among_others(orders: Orders):
    # One order is read with statements of its own (server/orders/rows.py), skipping the part
    # tables its head row says are empty.
    full = await orders.place(make_draft(), by=DOJO)
    bare = await orders.place(make_draft(discounts=None, taxLines=None, payments=[]), by=DOJO)
    assert (bare.content.discounts, bare.content.tax_lines, bare.payments) == ((), (), ())
    assert all((full.content.discounts, full.content.tax_lines, full.payments))
    assert await orders.get_many([full.id, bare.id]) == [full, bare]
    assert [await orders.get(full.id), await orders.get(bare.id)] == [full, bare]


async def test_the_same_modifiers_read_back_in_each_orders_own_currency(orders: Orders):
    # An item row's modifiers are read once per set and shared (server/orders/rows.py): a set
    # met first in pounds must not come back in pounds on an order in euros.
    euros = orjson.loads(orjson.dumps(make_order()).replace(b'"GBP"', b'"EUR"'))
    pounds = await orders.place(make_draft(), by=DOJO)
    other = await orders.place(OrderDraft.model_validate_json(orjson.dumps(euros)), by=DOJO)
    for order in await orders.get_many([pounds.id, other.id]):
        burger = order.content.items[0]
        amounts = [m.amount_per_modifier for m in (*burger.modifiers, *burger.sub_items[0].modifiers)]
        assert {amount.currency_code for amount in amounts} == {order.content.total_amount.currency_code}
    assert [o.content.total_amount.currency_code for o in (pounds, other)] == ["GBP", "EUR"]
    assert await orders.get_many([pounds.id, other.id]) == [pounds, other]


async def test_place_computes_paid_tips_and_payable(orders: Orders):
    placed = await orders.place(make_draft(), by=DOJO)
    assert (placed.paid_amount, placed.tips_amount, placed.payable) == (3130, 200, False)
    unpaid = await orders.place(make_draft(payments=[]), by=DOJO)
    assert (unpaid.paid_amount, unpaid.payable) == (0, True)


async def test_a_retry_returns_the_same_order_and_creates_nothing(orders: Orders, store: Store):
    draft = make_draft()
    first = await orders.place(draft, by=DOJO)
    await orders.move(first.id, S.CONFIRMED, by=STAFF)
    again = await orders.place(draft, by=DOJO)
    assert again.id == first.id
    assert again.status is S.CONFIRMED  # the order as it is now
    page = await orders.search(SearchFilters())
    assert [o.id for o in page.items] == [first.id]


async def test_the_same_dojo_order_id_with_a_different_body_is_a_conflict(orders: Orders):
    draft = make_draft()
    await orders.place(draft, by=DOJO)
    with pytest.raises(Conflict, match="different order"):
        await orders.place(draft.model_copy(update={"note": "changed"}), by=DOJO)


async def test_a_retry_of_an_order_an_older_build_placed_is_still_a_retry(orders: Orders, store: Store):
    """Older builds stored the digest of the whole draft's JSON: a retry of an order placed
    before an upgrade is told from a clash by that digest, not turned into a Conflict."""
    draft = make_draft()
    placed = await orders.place(draft, by=DOJO)
    older = hashlib.sha256(draft.model_dump_json().encode()).hexdigest()
    async with store.write() as tx:
        await tx.execute(update(ORDERS).where(ORDERS.c.id == placed.id).values(fingerprint=older))
    assert (await orders.place(draft, by=DOJO)).id == placed.id
    with pytest.raises(Conflict, match="different order"):
        await orders.place(draft.model_copy(update={"note": "changed"}), by=DOJO)


async def test_a_placed_orders_fingerprint_is_of_what_dojo_reads(orders: Orders, store: Store):
    """Today's digest is of the content as Dojo reads it (the answer's own JSON) and the rest of
    the draft: a field sent with its default value is the same order, and a change anywhere,
    payments included, is another."""
    draft = make_draft(discounts=None, taxLines=None)
    placed = await orders.place(draft, by=DOJO)
    async with store.read() as tx:
        stored = (await tx.execute(select(ORDERS.c.fingerprint).where(ORDERS.c.id == placed.id))).scalar_one()
    assert stored.startswith("2:")
    assert len(stored) == 2 + 64
    sent = {
        **draft.model_dump(mode="json", by_alias=True, exclude_none=True),
        "discounts": [],
        "taxLines": [],
    }
    spelt_out = OrderDraft.model_validate_json(orjson.dumps(sent))
    assert (await orders.place(spelt_out, by=DOJO)).id == placed.id
    tipped = tuple(p.model_copy(update={"tips_amount": Money.of(1, "GBP")}) for p in draft.payments)
    for other in (draft.model_copy(update={"payments": tipped}), draft.model_copy(update={"note": "x"})):
        with pytest.raises(Conflict, match="different order"):
            await orders.place(other, by=DOJO)


async def test_twenty_concurrent_retries_create_one_order(orders: Orders):
    draft = make_draft()
    placed = await asyncio.gather(*(orders.place(draft, by=DOJO) for _ in range(20)))
    assert len({order.id for order in placed}) == 1
    assert len((await orders.search(SearchFilters())).items) == 1


async def test_a_payment_intent_belongs_to_one_order(orders: Orders):
    first = make_draft()
    await orders.place(first, by=DOJO)
    with pytest.raises(Conflict, match="already belongs"):
        await orders.place(
            make_draft(payments=[p.model_dump(by_alias=True) for p in first.payments]), by=DOJO
        )


async def test_auto_confirm_answers_confirmed_and_records_the_pos_confirming(store, broker, clock):
    orders = Orders(store=store, broker=broker, clock=clock, auto_confirm=True)
    placed = await orders.place(make_draft(), by=DOJO)
    assert placed.status is S.CONFIRMED
    history = await orders.history(placed.id)
    assert [(h.kind, h.from_status, h.to_status, h.actor.kind) for h in history] == [
        (ChangeKind.CREATED, None, S.NEW, ActorKind.DOJO),
        (ChangeKind.STATUS_CHANGED, S.NEW, S.CONFIRMED, ActorKind.POS),
    ]


async def test_auto_confirm_leaves_staff_orders_new(store, broker, clock):
    orders = Orders(store=store, broker=broker, clock=clock, auto_confirm=True)
    placed = await orders.place(make_draft(dojoOrderId=None), by=STAFF)
    assert placed.status is S.NEW


async def test_history_keeps_dojo_requestor_headers(orders: Orders):
    placed = await orders.place(make_draft(), by=DOJO)
    (created,) = await orders.history(placed.id)
    assert created.actor == DOJO
    assert (created.actor.waiter_id, created.actor.device_type) == ("42", "Dojo Terminal")


async def test_get_and_history_of_an_unknown_order_are_not_found(orders: Orders):
    with pytest.raises(NotFound):
        await orders.get("ord_nope")
    with pytest.raises(NotFound):
        await orders.history("ord_nope")


# -- moving and cancelling ----------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.NEW, S.SUBMITTED, S.CONFIRMED])
async def test_dojo_cancels_before_the_kitchen_accepts(orders: Orders, status):
    placed = await orders.place(make_draft(), by=DOJO)
    if status is not S.NEW:
        await orders.move(placed.id, status, by=STAFF)
    canceled = await orders.cancel(placed.id, by=DOJO)
    assert canceled.status is S.CANCELED
    assert (await orders.get(placed.id)).status is S.CANCELED


@pytest.mark.parametrize("path", [[S.ACCEPTED], [S.ACCEPTED, S.PREPARING], [S.FAILED]])
async def test_dojo_cannot_cancel_once_the_kitchen_accepted_or_it_failed(orders: Orders, path):
    placed = await orders.place(make_draft(), by=DOJO)
    for status in path:
        await orders.move(placed.id, status, by=STAFF)
    with pytest.raises(Conflict):
        await orders.cancel(placed.id, by=DOJO)
    assert (await orders.get(placed.id)).status is path[-1]


async def test_dojo_cannot_cancel_a_finalized_order(orders: Orders):
    placed = await orders.place(make_draft(), by=DOJO)
    for status in (S.ACCEPTED, S.PREPARING, S.PREPARED, S.READY, S.FINALIZED):
        await orders.move(placed.id, status, by=STAFF)
    with pytest.raises(Conflict):
        await orders.cancel(placed.id, by=DOJO)


async def test_staff_can_cancel_a_started_order_with_a_reason(orders: Orders):
    placed = await orders.place(make_draft(), by=DOJO)
    await orders.move(placed.id, S.ACCEPTED, by=STAFF)
    await orders.move(placed.id, S.PREPARING, by=STAFF)
    canceled = await orders.cancel(placed.id, by=STAFF, reason="out of buns")
    assert canceled.status is S.CANCELED
    last = (await orders.history(placed.id))[-1]
    assert (last.kind, last.actor.name, last.detail) == (
        ChangeKind.CANCELED,
        "pass-screen",
        {"reason": "out of buns"},
    )


async def test_cancelling_a_canceled_order_returns_it_and_changes_nothing(
    orders: Orders, broker: MemoryBroker
):
    placed = await orders.place(make_draft(), by=DOJO)
    first = await orders.cancel(placed.id, by=DOJO)
    async with broker.subscribe(CHANNEL) as messages:
        again = await orders.cancel(placed.id, by=DOJO)
        assert again == first
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(messages), 0.05)
    assert len(await orders.history(placed.id)) == 2


async def test_a_move_the_table_forbids_is_refused_with_what_is_allowed(orders: Orders):
    placed = await orders.place(make_draft(), by=DOJO)
    with pytest.raises(InvalidMove) as raised:
        await orders.move(placed.id, S.READY, by=STAFF)
    assert raised.value.current is S.NEW
    assert S.ACCEPTED in raised.value.allowed


async def test_finalizing_an_unpaid_order_is_refused(orders: Orders):
    placed = await orders.place(make_draft(payments=[]), by=DOJO)
    for status in (S.ACCEPTED, S.PREPARING, S.PREPARED, S.READY):
        await orders.move(placed.id, status, by=STAFF)
    with pytest.raises(Conflict, match="paid in full"):
        await orders.move(placed.id, S.FINALIZED, by=STAFF)


async def test_of_two_cooks_bumping_the_same_ticket_one_wins(orders: Orders):
    placed = await orders.place(make_draft(), by=DOJO)
    results = await asyncio.gather(
        orders.move(placed.id, S.ACCEPTED, by=STAFF, expected=S.NEW),
        orders.move(placed.id, S.ACCEPTED, by=STAFF, expected=S.NEW),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "Order"]
    assert len(await orders.history(placed.id)) == 2


async def test_every_change_gets_a_larger_sequence_and_is_published_after_commit(
    orders: Orders, broker: MemoryBroker
):
    async with broker.subscribe(CHANNEL) as messages:
        placed = await orders.place(make_draft(), by=DOJO)
        await orders.move(placed.id, S.ACCEPTED, by=STAFF)
        await orders.cancel(placed.id, by=STAFF)
        changes = [Change.from_json(await anext(messages)) for _ in range(3)]
    assert [c.kind for c in changes] == [ChangeKind.CREATED, ChangeKind.STATUS_CHANGED, ChangeKind.CANCELED]
    assert {c.order_id for c in changes} == {placed.id}
    assert changes[0].sequence < changes[1].sequence < changes[2].sequence


# -- Dojo's payment events ----------------------------------------------------------------------


async def test_a_reversed_payment_stops_counting_and_the_order_becomes_payable(
    orders: Orders, cashier: Cashier
):
    placed = await orders.place(make_draft(), by=DOJO)
    intent = placed.payments[0].payment_intent_id
    assert await cashier.handle_event(event(intent, "Reversed"), by=DOJO) is EventOutcome.APPLIED
    order = await orders.get(placed.id)
    assert (order.paid_amount, order.tips_amount, order.payable) == (0, 0, True)
    assert order.payments[0].status is PaymentStatus.REVERSED
    last = (await orders.history(placed.id))[-1]
    assert last.kind is ChangeKind.PAYMENT_CHANGED
    assert last.detail == {
        "paymentIntentId": intent,
        "from": None,
        "to": "Reversed",
        "paidAmount": 3130,
        "tipsAmount": 200,
        "source": "order",
    }


async def test_the_same_event_twice_changes_nothing(orders: Orders, cashier: Cashier):
    placed = await orders.place(make_draft(), by=DOJO)
    captured = event(placed.payments[0].payment_intent_id, "Captured")
    assert await cashier.handle_event(captured, by=DOJO) is EventOutcome.APPLIED
    assert await cashier.handle_event(captured, by=DOJO) is EventOutcome.DUPLICATE
    assert len(await orders.history(placed.id)) == 2


async def test_a_webhook_copy_with_another_id_changes_nothing(orders: Orders, cashier: Cashier):
    placed = await orders.place(make_draft(), by=DOJO)
    intent = placed.payments[0].payment_intent_id
    assert (
        await cashier.handle_event(event(intent, "Captured", event_id="evt_a"), by=DOJO)
        is EventOutcome.APPLIED
    )
    assert (
        await cashier.handle_event(event(intent, "Captured", event_id="evt_b"), by=DOJO)
        is EventOutcome.DUPLICATE
    )
    assert len(await orders.history(placed.id)) == 2


async def test_an_older_event_does_not_override_a_newer_status(
    orders: Orders, clock: ManualClock, cashier: Cashier
):
    placed = await orders.place(make_draft(), by=DOJO)
    intent = placed.payments[0].payment_intent_id
    now = clock.now()
    await cashier.handle_event(event(intent, "Refunded", at=now + timedelta(minutes=5)), by=DOJO)
    outcome = await cashier.handle_event(event(intent, "Captured", at=now + timedelta(minutes=1)), by=DOJO)
    assert outcome is EventOutcome.STALE
    order = await orders.get(placed.id)
    assert order.payments[0].status is PaymentStatus.REFUNDED
    assert order.paid_amount == 0


async def test_an_unknown_event_type_is_acknowledged_and_ignored(orders: Orders, cashier: Cashier):
    unknown = event("pi_x", "Captured", kind="payment_intent.exploded")
    assert await cashier.handle_event(unknown, by=DOJO) is EventOutcome.IGNORED


async def test_an_event_for_an_unknown_intent_is_kept_and_applied_when_the_order_arrives(
    orders: Orders, cashier: Cashier
):
    draft = make_draft()
    intent = draft.payments[0].payment_intent_id
    assert await cashier.handle_event(event(intent, "Captured"), by=DOJO) is EventOutcome.UNMATCHED
    placed = await orders.place(draft, by=DOJO)
    assert placed.payments[0].status is PaymentStatus.CAPTURED
    assert placed.paid_amount == 3130


# -- searching ----------------------------------------------------------------------------------


async def place_at(orders: Orders, clock: ManualClock, count: int, **overrides) -> list[str]:
    ids = []
    for _ in range(count):
        clock.advance(timedelta(seconds=1))
        ids.append((await orders.place(make_draft(**overrides), by=DOJO)).id)
    return ids


async def test_search_filters_by_table_waiter_party_and_reservation(orders: Orders, clock: ManualClock):
    at_five = await place_at(orders, clock, 2)
    details = {
        "orderType": "DineIn",
        "dineIn": {"tableId": "7", "waiterId": "sam", "partyId": "p1", "reservationId": "r1"},
    }
    at_seven = await place_at(orders, clock, 1, details=details)
    for filters, expected in [
        (SearchFilters(table_id="5"), at_five),
        (SearchFilters(table_id="7"), at_seven),
        (SearchFilters(waiter_id="sam"), at_seven),
        (SearchFilters(party_id="p1"), at_seven),
        (SearchFilters(reservation_id="r1"), at_seven),
        (SearchFilters(table_id="5", waiter_id="sam"), []),
        (SearchFilters(), at_five + at_seven),
    ]:
        assert [o.id for o in (await orders.search(filters)).items] == expected, filters


async def test_payable_only_leaves_out_paid_and_terminal_orders(orders: Orders, clock: ManualClock):
    paid = await place_at(orders, clock, 1)
    unpaid, canceled = await place_at(orders, clock, 2, payments=[])
    await orders.cancel(canceled, by=DOJO)
    page = await orders.search(SearchFilters(payable_only=True))
    assert [o.id for o in page.items] == [unpaid]
    assert paid[0] not in [o.id for o in page.items]


async def test_a_cursor_walk_returns_every_order_once_while_new_ones_arrive(
    orders: Orders, clock: ManualClock
):
    existing = await place_at(orders, clock, 7)
    seen, after = [], None
    while True:
        page = await orders.search(SearchFilters(), limit=3, after=after)
        seen += [o.id for o in page.items]
        await place_at(orders, clock, 1)  # arrives mid-walk
        if page.after is None:
            break
        after = page.after
    assert len(seen) == len(set(seen))
    assert seen[: len(existing)] == existing


async def test_walking_back_with_before_returns_the_previous_page(orders: Orders, clock: ManualClock):
    ids = await place_at(orders, clock, 5)
    first = await orders.search(SearchFilters(), limit=2)
    assert first.before is None
    second = await orders.search(SearchFilters(), limit=2, after=first.after)
    assert [o.id for o in second.items] == ids[2:4]
    back = await orders.search(SearchFilters(), limit=2, before=second.before)
    assert [o.id for o in back.items] == ids[:2]
    assert back.before is None
    assert back.after is not None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"after": "x", "before": "y"}, "^cursor: before and after are mutually exclusive"),
        ({"after": "not-a-cursor"}, "^cursor.after: not a cursor"),
        ({"limit": 101}, "^cursor.limit: must be between 1 and 100"),
        ({"limit": 0}, "^cursor.limit: must be between 1 and 100"),
    ],
)
async def test_bad_paging_requests_are_invalid(orders: Orders, kwargs, message):
    with pytest.raises(InvalidRequest, match=message):
        await orders.search(SearchFilters(), **kwargs)


async def test_a_cursor_only_pages_the_search_it_came_from(orders: Orders, clock: ManualClock):
    await place_at(orders, clock, 3)
    page = await orders.search(SearchFilters(), limit=1)
    with pytest.raises(InvalidRequest, match="different search"):
        await orders.search(SearchFilters(table_id="5"), limit=1, after=page.after)


async def test_orders_placed_together_each_get_their_own_answer(orders: Orders):
    """Concurrent places share a transaction; a clash in one never fails another."""
    first = make_draft()
    clash = make_draft(payments=[p.model_dump(by_alias=True) for p in first.payments])
    results = await asyncio.gather(
        orders.place(first, by=DOJO),
        orders.place(clash, by=DOJO),
        orders.place(make_draft(), by=DOJO),
        orders.place(first, by=DOJO),
        return_exceptions=True,
    )
    assert isinstance(results[0], Order)
    assert isinstance(results[1], Conflict)
    assert isinstance(results[2], Order)
    assert isinstance(results[3], Order)
    assert results[3].id == results[0].id
    assert len((await orders.search(SearchFilters())).items) == 2


def test_order_ids_keep_dojos_shape_and_sort_by_when_they_were_made():
    """24 characters a terminal can show; ids made later sort later (new rows go at the end of
    every index keyed by the id), and many made at once never clash."""
    made = []
    for _ in range(5):
        made.append(new_order_id())
        time.sleep(0.002)  # a new millisecond
    assert made == sorted(made)
    assert all(re.fullmatch(r"ord_[a-z2-7]{20}", order_id) for order_id in made)
    same_millisecond = [new_order_id() for _ in range(200_000)]
    assert len(set(same_millisecond)) == len(same_millisecond)


def test_an_order_id_is_rfc_4648_base_32_of_when_it_was_made_and_random_bits():
    """The characters are base 32's own, reordered into ASCII order: read back with Python's
    base64 module, an id's first 50 bits are the millisecond it was made."""
    to_rfc = str.maketrans("234567abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    for _ in range(1000):
        before = time.time_ns() // 1_000_000
        order_id = new_order_id()
        after = time.time_ns() // 1_000_000
        number = int.from_bytes(base64.b32decode(order_id[4:].translate(to_rfc) + "AAAA")) >> 20
        assert before <= number >> 50 <= after
