"""The kitchen's view of an order: stages, tickets and all-day counts, without a database."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from server.errors import InvalidRequest
from server.floor.model import Place
from server.kds.tickets import all_day, payment_badge, tables_of, ticket
from server.lifecycle import ACTIVE, OrderStatus
from server.orders.model import CollectionDetails, Order, OrderDetails, OrderType
from server.payments.model import Payment, PaymentSource, PaymentStatus
from server.stages import STAGES, stage_of
from server.text import folded
from tests.factories import an_order

LONDON = ZoneInfo("Europe/London")
S = OrderStatus


def collection(at: datetime | None, *, asap: bool | None = None) -> Order:
    order = an_order()
    details = OrderDetails(
        order_type=OrderType.COLLECTION, collection=CollectionDetails(asap=asap, collect_at=at)
    )
    return dataclasses.replace(order, content=order.content.model_copy(update={"details": details}))


def test_the_stages_split_the_pass():
    assert STAGES["all"].statuses == ACTIVE
    assert STAGES["kitchen"].statuses == {S.NEW, S.SUBMITTED, S.CONFIRMED, S.ACCEPTED, S.PREPARING}
    assert STAGES["expo"].statuses == {S.PREPARED, S.READY}
    assert STAGES["kitchen"].statuses.isdisjoint(STAGES["expo"].statuses)


def test_a_ticket_serves_the_floors_name_for_its_table_else_table_and_its_id():
    order = an_order()  # table 5
    known = ticket(order, timezone=LONDON, places={"5": Place("Window seat", "Terrace")})
    assert (known.serves, known.area) == ("Window seat", "Terrace")
    unknown = ticket(order, timezone=LONDON, places={"6": Place("Booth", "Inside")})
    assert (unknown.serves, unknown.area) == ("Table 5", None)
    assert tables_of([order, collection(None)]) == {"5"}


def test_the_ready_board_shows_only_collection_orders_that_are_ready():
    ready = stage_of("ready")
    assert ready.shows(dataclasses.replace(collection(None, asap=True), status=S.READY))
    assert not ready.shows(dataclasses.replace(an_order(), status=S.READY))  # dine in
    assert not ready.shows(collection(None, asap=True))  # New


def test_an_unknown_stage_is_invalid():
    with pytest.raises(InvalidRequest):
        stage_of("bar")


def test_a_ticket_says_who_it_serves_and_what_to_make():
    made = ticket(dataclasses.replace(an_order(), requesting_product="Order&Pay"), timezone=LONDON)
    assert made.product == "Order&Pay"
    assert made.serves == "Table 5"
    assert made.title.startswith("T5-")
    assert [(line.quantity, line.name.text) for line in made.lines] == [(2, "Burger"), (2, "Lager")]
    assert [m.text for m in made.lines[0].modifiers] == ["Extra Cheese"]
    assert made.lines[0].sub_items[0].name.text == "Fries"
    assert made.lines[0].note is not None
    assert made.lines[0].note.text == "no onions"
    assert made.note is not None
    assert made.note.allergens == ("ALLERGY", "NUTS")
    assert made.bump is not None
    assert (made.bump.to, made.bump.verb) == (S.ACCEPTED, "Accept")
    assert made.recall_to is None


def test_collection_tickets_say_asap_or_the_local_time():
    assert ticket(collection(None, asap=True), timezone=LONDON).serves == "Collect ASAP"
    summer = datetime(2026, 7, 1, 17, 30, tzinfo=UTC)
    assert ticket(collection(summer), timezone=LONDON).serves == "Collect 18:30"


@pytest.mark.parametrize(
    ("statuses", "badge"),
    [((None,), "paid"), ((PaymentStatus.AUTHORIZED,), "authorised"), ((PaymentStatus.REVERSED,), "unpaid")],
)
def test_the_payment_badge(statuses, badge):
    payments = tuple(Payment(f"pi_{n}", 3130, 0, PaymentSource.ORDER, s) for n, s in enumerate(statuses))
    assert payment_badge(an_order(payments=payments)) == badge


def test_all_day_counts_items_and_sub_items_across_tickets():
    counts = dict(all_day([an_order(), an_order()]))
    assert counts == {"Burger": 4, "Lager": 4, "Fries": 4}


def test_folding_is_only_for_matching():
    assert folded("\uff2eÜ\u200bTS") == "nuts"
