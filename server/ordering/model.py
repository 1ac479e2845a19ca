"""Pausing Dojo's ordering products, as data: which products there are, which of them a kitchen
may pause, how a requestor header names one, what a pause is, and what CreateOrder says while
one holds. No I/O: the service (server/ordering/service.py) reads and writes the store.

A pause ends at `until` (or when someone resumes it): CreateOrder compares `now < until` by the
app's clock, so a pause ends on time in every process whether or not anyone has recorded it yet.
Pay at Table is never paused: it only pays orders already placed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from server.actors import Actor
from server.errors import InvalidRequest, OrderingPaused


class DojoProduct(StrEnum):
    """Dojo's products that call the POS, by the name their `dojo-requesting-product` header gives."""

    ORDER_AND_PAY = "Order&Pay"
    QR = "QR"
    PAY_AT_TABLE = "Pay at Table"


LABELS: Final[Mapping[DojoProduct, str]] = {
    DojoProduct.ORDER_AND_PAY: "Order & Pay",
    DojoProduct.QR: "QR ordering",
    DojoProduct.PAY_AT_TABLE: "Pay at Table",
}
# What a kitchen may pause: the products that place new orders.
PAUSABLE: Final = (DojoProduct.ORDER_AND_PAY, DojoProduct.QR)
# How Dojo's header may spell each product, compared as lower-case letters and digits only
# ("Order & Pay", "order-and-pay" and "Order&Pay" are one). A header naming none of them (or no
# header: a staff order) is never paused.
SPELLINGS: Final[Mapping[str, DojoProduct]] = {
    "orderpay": DojoProduct.ORDER_AND_PAY,
    "orderandpay": DojoProduct.ORDER_AND_PAY,
    "qr": DojoProduct.QR,
    "qrcode": DojoProduct.QR,
    "qrordering": DojoProduct.QR,
    "qrorderpay": DojoProduct.QR,
    "qrorderandpay": DojoProduct.QR,
    "orderpayqr": DojoProduct.QR,
    "payattable": DojoProduct.PAY_AT_TABLE,
}


def product_of(header: str | None) -> DojoProduct | None:
    """The product a `dojo-requesting-product` header names, however it is spelled; else None."""
    if not header:
        return None
    return SPELLINGS.get(re.sub(r"[^a-z0-9]", "", header.lower()))


class OrderingChangeKind(StrEnum):
    PAUSED = "PAUSED"
    RESUMED = "RESUMED"
    AUTO_RESUMED = "AUTO_RESUMED"  # its time was up


@dataclass(frozen=True, slots=True)
class Pause:
    """One product's new orders, paused: by whom, since when, and until when (None: until resumed)."""

    product: DojoProduct
    until: datetime | None
    paused_at: datetime
    by: Actor

    def holds(self, now: datetime) -> bool:
        return self.until is None or now < self.until

    def seconds_left(self, now: datetime) -> int | None:
        """Whole seconds until it ends (0 once it has), or None: until resumed."""
        return None if self.until is None else max(int((self.until - now).total_seconds()), 0)


@dataclass(frozen=True, slots=True)
class Pauses:
    """The pauses as the store holds them (one per product at most), some perhaps ended by now."""

    pauses: tuple[Pause, ...] = ()

    def in_force(self, now: datetime) -> tuple[Pause, ...]:
        return tuple(pause for pause in self.pauses if pause.holds(now))

    def holding(self, product: DojoProduct | None, *, now: datetime) -> Pause | None:
        return next((p for p in self.pauses if p.product is product and p.holds(now)), None)

    def due(self, now: datetime) -> bool:
        """Whether a pause here has run out and its automatic resume is yet to be recorded."""
        return any(not pause.holds(now) for pause in self.pauses)


@dataclass(frozen=True, slots=True)
class OrderingChange:
    """One line of the audit history: who paused or resumed which products, when, until when."""

    at: datetime
    kind: OrderingChangeKind
    by: Actor
    products: tuple[DojoProduct, ...]
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Gate:
    """What CreateOrder asks of each new Dojo order: is its product paused now? (`zone` is the
    venue's, for the time the refusal names.)"""

    pauses: Pauses
    zone: ZoneInfo

    def check(self, header: str | None, *, now: datetime) -> None:
        if not self.pauses.pauses:  # the usual case: nothing paused, nothing to look up
            return
        found = self.pauses.holding(product_of(header), now=now)
        if found is not None:
            raise OrderingPaused(refusal(found, self.zone), until=found.until)


OPEN: Final = Gate(Pauses(), ZoneInfo("UTC"))


def refusal(pause: Pause, zone: ZoneInfo) -> str:
    """What Dojo shows the customer whose order a pause refuses."""
    if pause.until is None:
        return "The kitchen has paused new orders for now. Please try again later."
    until = pause.until.astimezone(zone)
    return f"The kitchen has paused new orders until {until:%H:%M %Z}. Please try again then."


def chosen(
    products: Iterable[DojoProduct], minutes: int | None, *, offered: Sequence[int]
) -> tuple[DojoProduct, ...]:
    """The products a pause asks for, checked: at least one, none that only pays (Pay at Table),
    and a length the venue offers (None: until resumed). In screen order, each once."""
    wanted = set(products)
    if not wanted:
        raise InvalidRequest("products: choose at least one product to pause", field="products")
    if DojoProduct.PAY_AT_TABLE in wanted:
        raise InvalidRequest(
            "products: Pay at Table only pays orders already placed, so it cannot be paused", field="products"
        )
    if minutes is not None and minutes not in offered:
        choices = ", ".join(str(n) for n in offered)
        raise InvalidRequest(f"minutes: one of {choices}, or null until resumed", field="minutes")
    return tuple(product for product in PAUSABLE if product in wanted)


def auto_resumed(ended: Iterable[Pause], *, by: Actor) -> list[OrderingChange]:
    """The audit lines for pauses whose time ran out: one per time they ended at, oldest first."""
    by_until: defaultdict[datetime, list[DojoProduct]] = defaultdict(list)
    for pause in ended:
        assert pause.until is not None, "only a timed pause runs out"
        by_until[pause.until].append(pause.product)
    return [
        OrderingChange(until, OrderingChangeKind.AUTO_RESUMED, by, _ordered(products), until)
        for until, products in sorted(by_until.items())
    ]


def _ordered(products: Iterable[DojoProduct]) -> tuple[DojoProduct, ...]:
    found = set(products)
    return tuple(product for product in DojoProduct if product in found)
