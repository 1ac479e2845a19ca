"""GetOrderBill: the order as a terminal prints it, in Dojo's `OrderBill` shape.

The header names the venue (from settings) and the table (by its name and area where the floor
knows it, else by Dojo's table id); the footer lists every line with its
price, then discounts, taxes, the service charge, the total, what was paid and what is due,
and the venue's VAT number. Terminals print in a fixed-width font, so two columns are padding.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from server.dojo import contract
from server.floor.model import Place
from server.money import format_amount
from server.orders.model import Order, OrderType
from server.settings import Settings

WIDTH: Final = 32  # characters of Body text on a terminal's receipt


@dataclass(frozen=True, slots=True)
class Merchant:
    name: str
    address: tuple[str, ...]
    postcode: str
    vat_number: str | None
    phone: str | None
    email: str | None

    @classmethod
    def from_settings(cls, settings: Settings) -> Merchant:
        return cls(
            settings.merchant_name,
            settings.merchant_address,
            settings.merchant_postcode,
            settings.merchant_vat_number,
            settings.merchant_phone,
            settings.merchant_email,
        )


def order_bill(
    order: Order,
    *,
    merchant: Merchant,
    printed_at: datetime,
    timezone: ZoneInfo,
    place: Place | None = None,
) -> dict[str, Any]:
    """`place`: the order's table as the floor names it, when the floor knows it."""
    return {
        "header": {"lines": list(_header(order, merchant, printed_at.astimezone(timezone), place))},
        "order": contract.order(order),
        "footer": {"lines": list(_footer(order, merchant))},
    }


def _header(
    order: Order, merchant: Merchant, printed_at: datetime, place: Place | None
) -> Iterator[dict[str, Any]]:
    yield {"lineType": "MerchantName", "merchantName": {"name": merchant.name}}
    if merchant.address or merchant.postcode:
        address = {"addressLines": list(merchant.address), "postcode": merchant.postcode}
        yield {"lineType": "MerchantAddress", "merchantAddress": address}
    if merchant.phone:
        yield {"lineType": "MerchantPhoneNumber", "merchantPhoneNumber": {"phoneNumber": merchant.phone}}
    if merchant.email:
        yield {"lineType": "MerchantEmailAddress", "merchantEmailAddress": {"emailAddress": merchant.email}}
    yield _rule()
    content = order.content
    yield _text(content.display_name or content.reference or order.id, size="Header2", align="Left")
    serves, when = _serves(order, place), f"{printed_at:%d/%m/%Y %H:%M}"
    if len(serves) + 1 + len(when) <= WIDTH:
        yield _text(_columns(serves, when))
    else:  # a table's name and area are worth a line of their own rather than an ellipsis
        yield _text(_fit(serves))
        yield _text(when)
    if content.reference:
        yield _text(f"Order {content.reference}")


def _footer(order: Order, merchant: Merchant) -> Iterator[dict[str, Any]]:
    content, money = order.content, _money(order.currency)
    for item in content.items:
        yield _text(_columns(f"{item.quantity} x {item.name}", money(item.line_total())))
        yield from (
            _text(f"  + {m.quantity} x {m.name}" if m.quantity > 1 else f"  + {m.name}")
            for m in item.modifiers
        )
        yield from (_text(f"  {sub.quantity} x {sub.name}") for sub in item.sub_items)
    yield _rule()
    for discount in content.discounts:
        yield _text(_columns(discount.name, "-" + money(discount.amount_total.value)))
    for tax in content.tax_lines:
        yield _text(_columns(f"{tax.name or tax.id or 'Tax'} (included)", money(tax.amount_total.value)))
    if content.service_charge_amount is not None:
        yield _text(_columns("Service charge", money(content.service_charge_amount.value)))
    yield _text(_columns("TOTAL", money(content.total_amount.value)), bold=True)
    yield _text(_columns("Paid", money(order.paid_amount)))
    if order.tips_amount:
        yield _text(_columns("Tips", money(order.tips_amount)))
    yield _text(_columns("DUE", money(max(content.total_amount.value - order.paid_amount, 0))), bold=True)
    yield _rule()
    if merchant.vat_number:
        yield {"lineType": "TaxNumber", "taxNumber": {"name": "VAT", "number": merchant.vat_number}}
    yield _text("Thank you", size="Header1", align="Center")


def _serves(order: Order, place: Place | None) -> str:
    details = order.content.details
    if details.order_type is OrderType.DINE_IN and details.dine_in and details.dine_in.table_id:
        waiter = f" · {details.dine_in.waiter_id}" if details.dine_in.waiter_id else ""
        table = f"{place.table} · {place.area}" if place else f"Table {details.dine_in.table_id}"
        return f"{table}{waiter}"
    return "Collection" if details.order_type is OrderType.COLLECTION else "Dine in"


def _money(currency: str) -> Any:
    return lambda value: format_amount(value, currency)


def _columns(left: str, right: str) -> str:
    room = max(WIDTH - len(right) - 1, 1)
    return _fit(left, room).ljust(room) + " " + right


def _fit(text: str, room: int = WIDTH) -> str:
    return text[: room - 1] + "…" if len(text) > room else text


def _text(value: str, *, size: str = "Body", align: str = "Left", bold: bool = False) -> dict[str, Any]:
    text: dict[str, Any] = {"value": value, "size": size, "align": align}
    if bold:
        text["bold"] = True
    return {"lineType": "Text", "text": text}


def _rule() -> dict[str, Any]:
    return {"lineType": "HorizontalLine", "horizontalLine": {"line": "Single"}}
