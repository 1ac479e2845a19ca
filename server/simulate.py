"""`orderpass simulate`: play Dojo Order & Pay against a running orderpass, over its REST shim.

`plan_order` turns a `random.Random` into one order as Dojo would send it (a pure function, so
a seed repeats the orders); `play` sends them at a steady rate: CreateOrder, then a payment
event for the paid ones (Captured, or Reversed when Dojo cancelled the order straight away). A
server it cannot reach at the start ends the run, naming the address it tried; once under way,
a failed request is reported on stderr and the run goes on, so a server restart does not end it.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import secrets
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import httpx

from server.clock import iso
from server.dojo.contract import money
from server.errors import Unauthorized, Unavailable
from server.money import format_amount


@dataclass(frozen=True, slots=True)
class Entry:
    """A dish, drink, modifier or side on the menu."""

    name: str
    plu: str
    price: int = 0  # pence
    modifiers: tuple[Entry, ...] = ()  # any of these, up to two
    sides: tuple[Entry, ...] = ()  # one of these, as a sub-item
    notes: tuple[str, ...] = ()


# Modifiers and sides: name, PLU, price in pence.
CHEESE, BACON = Entry("Extra Cheese", "MOD-CHS", 100), Entry("Bacon", "MOD-BAC", 150)
FRIES, SWEET_FRIES = Entry("Fries", "SUB-FRI"), Entry("Sweet Potato Fries", "SUB-SPF", 100)
MOZZARELLA, VEGAN_CHEESE = Entry("Extra Mozzarella", "MOD-MOZ", 150), Entry("Vegan Cheese", "MOD-VGC", 100)
PEAS, TARTARE = Entry("Mushy Peas", "MOD-PEA", 150), Entry("Tartare Sauce", "MOD-TAR")
CHICKEN, ANCHOVIES = Entry("Chicken", "MOD-CHK", 250), Entry("Anchovies", "MOD-ANC", 100)
CUSTARD, ICE_CREAM = Entry("Custard", "SUB-CUS"), Entry("Vanilla Ice Cream", "SUB-ICE", 50)
OAT_MILK, EXTRA_SHOT = Entry("Oat Milk", "MOD-OAT", 40), Entry("Extra Shot", "MOD-SHT", 60)
HOT_SAUCE, NO_ICE = Entry("Hot Sauce", "MOD-HOT"), Entry("No Ice", "MOD-NIC")

MENU: Final[tuple[Entry, ...]] = (
    Entry("Burger", "BRG-01", 1095, (CHEESE, BACON), (FRIES, SWEET_FRIES), ("no onions", "well done")),
    Entry("Margherita Pizza", "PIZ-01", 1150, (MOZZARELLA, VEGAN_CHEESE), notes=("well done", "no basil")),
    Entry("Fish & Chips", "FSH-01", 1450, (PEAS, TARTARE), notes=("allergy: gluten", "no vinegar")),
    Entry("Caesar Salad", "SAL-01", 895, (CHICKEN, ANCHOVIES), notes=("dressing on the side", "no croutons")),
    Entry("Chicken Wings", "WNG-01", 795, (HOT_SAUCE,), notes=("allergy: nuts", "extra hot")),
    Entry("Sticky Toffee Pudding", "DES-01", 650, sides=(CUSTARD, ICE_CREAM), notes=("allergy: nuts",)),
    Entry("Flat White", "HOT-01", 340, (OAT_MILK, EXTRA_SHOT), notes=("extra hot",)),
    Entry("Lager (pint)", "DRK-01", 550),
    Entry("House Red (175ml)", "DRK-02", 725),
    Entry("Lemonade", "DRK-03", 350, (NO_ICE,)),
)
WAITERS: Final = ("becky", "tom", "priya", "marco")
CUSTOMERS: Final = ("Sam", "Aisha", "Olu", "Mei", "Jack", "Freya", "Kofi", "Zoe")
CURRENCY: Final = "GBP"
QUANTITIES: Final = (1, 1, 1, 1, 2, 2, 3)  # weighted: most lines are one of a thing
SERVICE_CHARGE_PERMILLE: Final = 125  # 12.5%
TIPS: Final = (50, 100, 150, 200, 300, 500)
# How often each thing happens, as a probability.
COLLECTION: Final = 0.4  # else dine-in
ASAP: Final = 0.5  # else collectAt 15-45 minutes ahead
UNPAID_DINE_IN: Final = 0.3  # Pay at Table: the bill is paid later
SERVICE_CHARGED: Final = 0.5  # of dine-in orders
TIPPED: Final = 0.3
NOTED: Final = 0.2  # of the items that have notes to choose from
CANCELLED: Final = 0.05  # by Dojo, straight after placing
TALLY: Final = ("placed", "paid", "unpaid", "captured", "reversed", "cancelled")


@dataclass(frozen=True, slots=True)
class Plan:
    """One simulated order: Dojo's CreateOrder body, the requestor headers it comes with, how the
    progress line names it, and whether Dojo cancels it straight away."""

    body: dict[str, Any]
    headers: dict[str, str]
    label: str
    cancel: bool

    @property
    def intent(self) -> str | None:
        payments = self.body["payments"]
        return str(payments[0]["paymentIntentId"]) if payments else None

    def describe(self) -> str:
        total = format_amount(self.body["totalAmount"]["value"], CURRENCY)
        paid = "paid" if self.intent else "unpaid"
        lines = len(self.body["items"])
        return f"{self.label}, {lines} item{'s' if lines > 1 else ''}, {total} ({paid})"


# -- generating orders (no I/O) ------------------------------------------------------------------


def plan_order(rng: random.Random, *, number: int, run: str, now: datetime) -> Plan:
    """The `number`th order of run `run`: a dine-in (Pay at Table) or collection (Order & Pay) order."""
    dine_in = rng.random() >= COLLECTION
    part, headers, label = _dine_in(rng) if dine_in else _collection(rng, now)
    items = [_item(rng) for _ in range(rng.randint(1, 6))]
    subtotal = sum(line_total(item) for item in items)
    charged = dine_in and rng.random() < SERVICE_CHARGED
    service = (subtotal * SERVICE_CHARGE_PERMILLE + 500) // 1000 if charged else 0  # to the penny, half up
    total = subtotal + service  # Dojo's totalAmount includes the service charge
    paid = not (dine_in and rng.random() < UNPAID_DINE_IN)
    body: dict[str, Any] = {
        "dojoOrderId": f"sim-{run}-{number}",
        "reference": f"{run.upper()}-{number:04d}",
        **part,
        "items": items,
        "totalAmount": gbp(total),
        "payments": _payments(rng, intent=f"pi_sim_{run}_{number}", total=total) if paid else [],
    }
    if service:
        body["serviceChargeAmount"] = gbp(service)
    return Plan(body, headers, label, cancel=rng.random() < CANCELLED)


def _dine_in(rng: random.Random) -> tuple[dict[str, Any], dict[str, str], str]:
    table, waiter = rng.randint(1, 20), rng.choice(WAITERS)
    part = {
        "displayName": f"Table {table}",
        "details": {"orderType": "DineIn", "dineIn": {"tableId": str(table), "waiterId": waiter}},
    }
    headers = _requestor("Pay at Table", f"tm_sim_{rng.randint(1, 3)}", "Dojo Terminal")
    return part, {**headers, "waiter-id": waiter}, f"table {table}"


def _collection(rng: random.Random, now: datetime) -> tuple[dict[str, Any], dict[str, str], str]:
    name, asap, minutes = rng.choice(CUSTOMERS), rng.random() < ASAP, rng.randint(15, 45)
    at = (now + timedelta(minutes=minutes)).replace(second=0, microsecond=0)
    collection: dict[str, Any] = {"asap": True} if asap else {"asap": False, "collectAt": iso(at)}
    part = {
        "displayName": name,
        "customer": {"name": name},
        "details": {"orderType": "Collection", "collection": collection},
    }
    headers = _requestor("Order&Pay", f"web_sim_{rng.randint(1000, 9999)}", "Mobile Web")
    return part, headers, f"collection for {name} " + ("asap" if asap else f"in {minutes} min")


def _requestor(product: str, device_id: str, device_type: str) -> dict[str, str]:
    return {"dojo-requesting-product": product, "device-id": device_id, "device-type": device_type}


def _item(rng: random.Random) -> dict[str, Any]:
    dish = rng.choice(MENU)
    item = _line(dish.name, dish.plu, dish.price, quantity=rng.choice(QUANTITIES))
    chosen = rng.sample(dish.modifiers, k=rng.randint(0, min(2, len(dish.modifiers))))
    if chosen:
        item["modifiers"] = [_modifier(extra, quantity=rng.choice((1, 1, 1, 2))) for extra in chosen]
    if dish.sides:
        side = rng.choice(dish.sides)
        item["subItems"] = [_line(side.name, side.plu, side.price, quantity=1)]
    if dish.notes and rng.random() < NOTED:
        item["note"] = rng.choice(dish.notes)
    return item


def _line(name: str, plu: str, price: int, *, quantity: int) -> dict[str, Any]:
    return {"name": name, "plu": plu, "quantity": quantity, "amountPerItem": gbp(price)}


def _modifier(extra: Entry, *, quantity: int) -> dict[str, Any]:
    return {"name": extra.name, "plu": extra.plu, "quantity": quantity, "amountPerModifier": gbp(extra.price)}


def gbp(pence: int) -> dict[str, Any]:
    return money(pence, CURRENCY)


def line_total(item: Mapping[str, Any]) -> int:
    """One line's price: its quantity times the item with its modifiers and sub-items, whose
    quantities count per single item (as Dojo's `Modifier` says)."""
    each = item["amountPerItem"]["value"]
    each += sum(m["quantity"] * m["amountPerModifier"]["value"] for m in item.get("modifiers", ()))
    each += sum(line_total(sub) for sub in item.get("subItems", ()))
    return int(item["quantity"] * each)


def _payments(rng: random.Random, *, intent: str, total: int) -> list[dict[str, Any]]:
    payment: dict[str, Any] = {"paymentIntentId": intent, "paidAmount": gbp(total)}
    if rng.random() < TIPPED:
        payment["tipsAmount"] = gbp(rng.choice(TIPS))
    return [payment]


def payment_event(plan: Plan, status: str, *, at: datetime) -> dict[str, Any]:
    """Dojo's `payment_intent.status_updated` for the plan's payment intent."""
    return {
        "id": f"evt_{plan.body['dojoOrderId']}_{status.lower()}",
        "accountId": "acc_sim",
        "event": "payment_intent.status_updated",
        "createdAt": iso(at),
        "data": {"paymentIntentId": plan.intent, "paymentStatus": status, "captureMode": "Auto"},
    }


# -- playing them against a server ---------------------------------------------------------------


async def play(
    *, url: str, rate: float, count: int | None, seed: int | None, auth: tuple[str, str]
) -> Counter[str]:
    """Send `count` orders (None: until cancelled) at `rate` a minute, printing a line per action
    and a summary. Ids carry a fresh run tag, so repeating a seed places new orders."""
    rng, run, tally = random.Random(seed), secrets.token_hex(3), Counter[str]()
    numbers: Iterable[int] = itertools.count(1) if count is None else range(1, count + 1)
    started = slot = time.monotonic()
    async with httpx.AsyncClient(base_url=url, auth=auth, timeout=10) as client:
        await reach(client)
        dojo = Dojo(client, tally)
        try:
            for number in numbers:
                slot = max(slot, time.monotonic() - 60 / rate)  # after a stall, go on rather than burst
                await asyncio.sleep(slot - time.monotonic())
                slot += 60 / rate
                await _order(dojo, plan_order(rng, number=number, run=run, now=datetime.now(UTC)))
        finally:
            counts = ", ".join(f"{tally[key]} {key}" for key in TALLY)
            _say(f"simulated {time.monotonic() - started:.1f}s: {counts}; {tally['failed']} requests failed")
    return tally


async def reach(client: httpx.AsyncClient) -> None:
    """Unavailable, naming the address, unless an orderpass answers there."""
    where = str(client.base_url).rstrip("/")
    try:
        response = await client.get("/healthz", timeout=5)
    except httpx.HTTPError as exc:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise Unavailable(
            f"cannot reach an orderpass at {where} ({reason}); is `orderpass serve` running there? "
            "Say where with --port (and --host), or --url"
        ) from None
    if response.status_code != 200:
        raise Unavailable(f"{where}/healthz answered {response.status_code}: is that an orderpass?")


async def _order(dojo: Dojo, plan: Plan) -> None:
    order = await dojo.send("POST", "/v1/orders", plan, plan.body)
    if order is None:
        return
    dojo.tally.update(["placed", "paid" if plan.intent else "unpaid"])
    _say(f"placed {order['id']} {plan.describe()}")
    cancelled = plan.cancel and await dojo.send("DELETE", f"/v1/orders/{order['id']}", plan) is not None
    if cancelled:
        dojo.tally["cancelled"] += 1
        _say(f"cancelled {order['id']}")
    if plan.intent:
        status = "Reversed" if cancelled else "Captured"  # a cancelled order's pre-authorisation is let go
        event = payment_event(plan, status, at=datetime.now(UTC))
        if await dojo.send("POST", "/v1/events", plan, event) is not None:
            dojo.tally[status.lower()] += 1
            _say(f"{status.lower()} {plan.intent} for {order['id']}")


@dataclass(frozen=True, slots=True)
class Dojo:
    """Dojo's side of the REST shim: every call carries the plan's requestor headers."""

    client: httpx.AsyncClient
    tally: Counter[str]

    async def send(
        self, method: str, path: str, plan: Plan, body: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """The answer's JSON, or None once a failure is reported (wrong credentials end the run)."""
        try:
            response = await self.client.request(method, path, json=body, headers=plan.headers)
        except httpx.HTTPError as exc:
            self._failed(f"{method} {self.client.base_url.join(path)}: {type(exc).__name__}: {exc}")
            return None
        if response.status_code == 401:
            raise Unauthorized(f"{response.url} refused the Dojo credentials (see --username, --password)")
        if response.is_error:
            self._failed(f"{method} {path}: {response.status_code} {response.text[:300]}")
            return None
        answer: dict[str, Any] = response.json()
        return answer

    def _failed(self, message: str) -> None:
        self.tally["failed"] += 1
        print(f"orderpass simulate: {message}", file=sys.stderr, flush=True)


def _say(line: str) -> None:
    print(line, flush=True)


def per_minute(text: str) -> float:
    """`--rate`'s argparse type: a finite number above zero."""
    value = float(text)
    if not 0 < value < float("inf"):
        raise ValueError(text)
    return value
