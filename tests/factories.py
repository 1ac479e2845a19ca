"""Realistic Dojo bodies for tests: an order as Order & Pay sends it, and payment events."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from server.lifecycle import OrderStatus
from server.money import Money
from server.orders.model import Order, OrderDraft
from server.payments.model import Payment

_numbers = itertools.count(1)


def money(value: int, currency: str = "GBP") -> dict[str, Any]:
    return {"value": value, "currencyCode": currency}


def item(name: str, price: int, quantity: int = 1, **extra: Any) -> dict[str, Any]:
    """An item of Dojo's JSON; an extra of None leaves that field out, as Dojo does."""
    return {
        "name": name,
        "plu": name[:3].upper(),
        "quantity": quantity,
        "amountPerItem": money(price),
        **{key: value for key, value in extra.items() if value is not None},
    }


def modifier(name: str, price: int = 0, quantity: int = 1) -> dict[str, Any]:
    return {"name": name, "plu": f"M-{name[:4]}", "quantity": quantity, "amountPerModifier": money(price)}


def make_order(**overrides: Any) -> dict[str, Any]:
    """A dine-in order for table 5 with a paid payment: 2 burgers (one modified, with fries), 2 lagers.
    An override of None leaves that field out: Dojo never sends null (server/orders/model.py)."""
    number = next(_numbers)
    body: dict[str, Any] = {
        "dojoOrderId": f"dojo-order-{number}",
        "reference": f"T5-{number:04d}",
        "displayName": "Table 5",
        "note": "birthday table, one guest has a nut allergy",
        "details": {"orderType": "DineIn", "dineIn": {"tableId": "5", "waiterId": "becky"}},
        "items": [
            item(
                "Burger",
                1090,
                2,
                note="no onions",
                modifiers=[modifier("Extra Cheese", 100)],
                subItems=[{**item("Fries", 0), "modifiers": [modifier("Salt")]}],
            ),
            item("Lager", 510, 2),
        ],
        "discounts": [{"name": "10% off", "amountTotal": money(310), "amountPercentage": 1000}],
        "taxLines": [{"id": "VAT", "name": "VAT", "amountPercentage": 2000, "amountTotal": money(465)}],
        "serviceChargeAmount": money(250),
        "totalAmount": money(3130),
        "customer": {
            "name": "Ann Example",
            "emailAddress": "ann@example.com",
            "phoneNumber": "+441234567890",
        },
        "payments": [
            {"paymentIntentId": f"pi_{number}", "paidAmount": money(3130), "tipsAmount": money(200)}
        ],
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


def collection_order(**overrides: Any) -> dict[str, Any]:
    return make_order(
        details={"orderType": "Collection", "collection": {"asap": True}},
        displayName="Sam",
        payments=[],
        **overrides,
    )


def make_draft(**overrides: Any) -> OrderDraft:
    return OrderDraft.model_validate_json(orjson.dumps(make_order(**overrides)))


def payment_event(
    intent: str,
    status: str,
    *,
    at: datetime | None = None,
    event_id: str | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    at = at or datetime(2026, 11, 27, 12, 0, tzinfo=UTC) + timedelta(seconds=next(_numbers))
    return {
        "id": event_id or f"evt_{next(_numbers)}",
        "accountId": "acc_test",
        "event": kind or "payment_intent.status_updated",
        "createdAt": at.isoformat().replace("+00:00", "Z"),
        "data": {"paymentIntentId": intent, "paymentStatus": status, "captureMode": "Auto"},
    }


def an_order(
    *, payments: tuple[Payment, ...] = (), total: int = 3130, status: OrderStatus = OrderStatus.NEW
) -> Order:
    """A domain Order, without a database, for rules that only read it."""
    content = make_draft().content().model_copy(update={"total_amount": Money.of(total, "GBP")})
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    return Order("ord_test", None, status, 1, content, payments, now, now)
