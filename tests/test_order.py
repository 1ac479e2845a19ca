"""The rules an order's content keeps, whichever door it came through."""

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from server.errors import invalid
from server.lifecycle import OrderStatus
from server.money import MAX_VALUE
from server.orders.model import Order, OrderContent, OrderDraft
from tests.factories import item, make_order, modifier, money

NOW = datetime(2026, 11, 30, 19, 0, tzinfo=UTC)


def parse(body: dict[str, Any]) -> OrderDraft:
    return OrderDraft.model_validate_json(orjson.dumps(body))


def rejected(body: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as raised:
        parse(body)
    return invalid(raised.value).message


def test_a_realistic_order_parses_with_every_line():
    draft = parse(make_order())
    assert [i.name for i in draft.items] == ["Burger", "Lager"]
    assert draft.items[0].sub_items[0].modifiers[0].name == "Salt"
    assert draft.currency == "GBP"


def test_quantity_below_one_is_refused_on_items_sub_items_and_modifiers():
    assert "items.0.quantity" in rejected(make_order(items=[item("Tea", 100, 0)]))
    sub = item("Burger", 100, subItems=[item("Fries", 0, 0)])
    assert "items.0.subItems.0.quantity" in rejected(make_order(items=[sub]))
    modded = item("Burger", 100, modifiers=[modifier("Cheese", 10, 0)])
    assert "items.0.modifiers.0.quantity" in rejected(make_order(items=[modded]))


def test_negative_amounts_are_refused():
    assert "totalAmount.value" in rejected(make_order(totalAmount=money(-1)))
    assert "amountPerItem.value" in rejected(make_order(items=[item("Tea", -5)]))


def test_payments_may_not_add_up_past_the_largest_amount():
    """Each payment fits Money, but the Order Dojo reads back sums them: the sum must fit too."""
    largest = money(MAX_VALUE)
    payments = [{"paymentIntentId": f"pi_{n}", "paidAmount": largest} for n in range(2)]
    assert "largest amount" in rejected(make_order(payments=payments))
    tipped = [{"paymentIntentId": f"pi_{n}", "paidAmount": money(1), "tipsAmount": largest} for n in range(2)]
    assert "largest amount" in rejected(make_order(payments=tipped))
    assert parse(make_order(payments=payments[:1])).payments[0].paid_amount.value == MAX_VALUE


def test_one_order_takes_one_currency():
    message = rejected(make_order(totalAmount=money(3130, "EUR")))
    assert "one currency" in message
    assert "EUR" in message
    assert "GBP" in message


def test_currency_must_be_iso_4217():
    body = make_order(payments=[])
    body = orjson.loads(orjson.dumps(body).replace(b'"GBP"', b'"XYZ"'))
    assert "ISO 4217" in rejected(body)


def test_an_unknown_order_type_is_refused():
    assert "details.orderType" in rejected(make_order(details={"orderType": "Delivery", "dineIn": {}}))


def test_details_need_dine_in_or_collection():
    assert "dineIn or collection" in rejected(make_order(details={"orderType": "DineIn"}))


def test_types_are_not_coerced():
    assert "items.0.quantity" in rejected(make_order(items=[item("Tea", 100, "2")]))  # type: ignore[arg-type]
    assert "items.0.quantity" in rejected(make_order(items=[{**item("Tea", 100), "quantity": 1.5}]))
    assert "customer.phoneNumber" in rejected(make_order(customer={"phoneNumber": 448000443550}))


def test_dojo_order_id_and_payments_are_optional_for_a_staff_order():
    body = make_order()
    del body["dojoOrderId"], body["payments"]
    draft = parse(body)
    assert draft.dojo_order_id is None
    assert draft.payments == ()


def test_timestamps_without_an_offset_are_taken_as_utc():
    draft = parse(
        make_order(details={"orderType": "Collection", "collection": {"collectAt": "2026-11-27T18:30:00"}})
    )
    assert draft.details.collection is not None
    assert draft.details.collection.collect_at is not None
    assert draft.details.collection.collect_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "body", [make_order(), make_order(customer=None, discounts=None, taxLines=None, note=None)]
)
def test_a_drafts_content_is_its_content_fields_exactly_as_validated(body: dict[str, Any]):
    draft = parse(body)
    fields = set(OrderContent.model_fields)
    validated = OrderContent.model_validate(draft.model_dump(include=fields))
    content = draft.content()
    assert type(content) is OrderContent
    assert content == validated
    assert content.model_fields_set == fields  # every field named, as model_construct(**all) set them
    assert content.model_dump_json(exclude_defaults=True) == validated.model_dump_json(exclude_defaults=True)


def test_an_orders_content_json_is_of_the_content_it_holds_now():
    """An order just placed carries its content's JSON (its fingerprint was taken of it); an
    order made from it with other content (an amendment, dataclasses.replace) writes its own."""
    draft = parse(make_order(note="as placed"))
    content = draft.content()
    placed = Order(
        "ord_1", None, OrderStatus.NEW, 1, content, (), NOW, NOW, written=(content, b'{"as":"kept"}')
    )
    assert placed.content_json() == b'{"as":"kept"}'
    amended = dataclasses.replace(placed, content=content.model_copy(update={"note": "amended"}))
    assert orjson.loads(amended.content_json())["note"] == "amended"
    assert orjson.loads(dataclasses.replace(placed, written=None).content_json())["note"] == "as placed"
