"""`orderpass simulate`: the orders it makes, played against a real server, and the real command."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime

import pytest

from server.errors import Unauthorized, Unavailable
from server.lifecycle import OrderStatus
from server.orders.service import Orders
from server.payments.model import PaymentStatus
from server.simulate import Plan, payment_event, plan_order, play
from tests import dojo_contract
from tests.conftest import LiveServer, dojo_client
from tests.processes import DOJO_AUTH, clean_environment, free_port, run, serving

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def plans(seed: int, count: int = 200) -> list[Plan]:
    rng = random.Random(seed)
    return [plan_order(rng, number=n, run="t3st", now=NOW) for n in range(1, count + 1)]


def price(line) -> int:
    """A line as Dojo prices it: quantity x (item + its modifiers + its sub-items), worked out here apart."""
    each = line["amountPerItem"]["value"]
    for modifier in line.get("modifiers", []):
        each += modifier["quantity"] * modifier["amountPerModifier"]["value"]
    for sub_item in line.get("subItems", []):
        each += price(sub_item)
    return int(line["quantity"] * each)


# -- the orders it makes --------------------------------------------------------------------------


def test_orders_and_their_events_keep_dojos_contract():
    contract = dojo_contract.load()
    if contract is None:
        pytest.skip(dojo_contract.MISSING)
    for plan in plans(seed=1):
        assert contract.request_errors("POST", "/v1/orders", plan.body) == [], plan.body
        if plan.intent:
            assert contract.event_errors(payment_event(plan, "Captured", at=NOW)) == []


def test_totals_add_up_to_items_modifiers_and_service_charge():
    for plan in plans(seed=2):
        body = plan.body
        service = body.get("serviceChargeAmount", {"value": 0})["value"]
        subtotal = sum(price(line) for line in body["items"])
        assert body["totalAmount"]["value"] == subtotal + service
        if service:
            assert service == int(subtotal * 0.125 + 0.5), "12.5%, to the penny"
        assert 1 <= len(body["items"]) <= 6
        assert all(1 <= line["quantity"] <= 3 for line in body["items"])
        for payment in body["payments"]:
            assert payment["paidAmount"] == body["totalAmount"]


def test_a_seed_repeats_the_same_orders():
    assert [plan.body for plan in plans(seed=7)] == [plan.body for plan in plans(seed=7)]
    assert [plan.body for plan in plans(seed=7)] != [plan.body for plan in plans(seed=8)]


def test_a_run_mixes_dine_in_and_collection_paid_and_unpaid_orders():
    made = plans(seed=3)
    dine_in = [p for p in made if p.body["details"]["orderType"] == "DineIn"]
    collection = [p for p in made if p.body["details"]["orderType"] == "Collection"]
    assert dine_in
    assert collection
    assert all(p.headers["dojo-requesting-product"] == "Pay at Table" for p in dine_in)
    assert all(p.headers["dojo-requesting-product"] == "Order&Pay" for p in collection)
    assert all(p.intent for p in collection), "Order & Pay takes the payment before the order"
    assert any(not p.intent for p in dine_in)
    assert any("serviceChargeAmount" in p.body for p in dine_in)
    assert not any("serviceChargeAmount" in p.body for p in collection)
    assert any(p.cancel for p in made)
    assert len({p.body["dojoOrderId"] for p in made}) == len({p.body["reference"] for p in made}) == len(made)
    assert all(1 <= int(p.body["details"]["dineIn"]["tableId"]) <= 20 for p in dine_in)
    assert any(line.get("note") for p in made for line in p.body["items"])


# -- played against a real server ------------------------------------------------------------------


async def test_play_places_orders_and_settles_their_payments(live_server: LiveServer, orders: Orders, capsys):
    expected = plans(seed=1, count=8)  # the same orders play() draws from the seed
    assert any(p.cancel and p.intent for p in expected), "the seed covers a paid order that is cancelled"
    assert any(not p.intent for p in expected)

    tally = await play(url=live_server.url, rate=60_000, count=8, seed=1, auth=DOJO_AUTH)

    async with dojo_client(live_server) as dojo:
        found = (await dojo.post("/v1/orders/search", json={"cursor": {"limit": 100}})).json()["data"]
    assert [order["totalAmount"] for order in found] == [p.body["totalAmount"] for p in expected]
    for order, plan in zip(found, expected, strict=True):
        held, history = await orders.get(order["id"]), await orders.history(order["id"])
        assert history[0].actor.requesting_product == plan.headers["dojo-requesting-product"]
        if plan.cancel:
            assert order["status"] == OrderStatus.CANCELED
        if plan.intent is None:
            assert order["paidAmount"]["value"] == 0
            assert held.payments == ()
            continue
        settled = PaymentStatus.REVERSED if plan.cancel else PaymentStatus.CAPTURED
        assert [p.status for p in held.payments] == [settled]
        paid = 0 if plan.cancel else order["totalAmount"]["value"]
        assert order["paidAmount"]["value"] == paid

    paid = [p for p in expected if p.intent]
    assert tally == {
        "placed": 8,
        "paid": len(paid),
        "unpaid": 8 - len(paid),
        "captured": sum(not p.cancel for p in paid),
        "reversed": sum(p.cancel for p in paid),
        "cancelled": sum(p.cancel for p in expected),
    }
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in out if line.startswith("placed ")] == [o["id"] for o in found]
    assert out[-1].startswith("simulated ")
    assert "8 placed" in out[-1]


async def test_a_server_it_cannot_reach_ends_the_run_naming_the_address():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(Unavailable, match=re.escape(f"cannot reach an orderpass at {url} (ConnectError")):
        await play(url=url, rate=60_000, count=3, seed=1, auth=DOJO_AUTH)


async def test_wrong_credentials_end_the_run(live_server: LiveServer):
    with pytest.raises(Unauthorized):
        await play(url=live_server.url, rate=60_000, count=3, seed=1, auth=("dojo", "wrong"))


# -- the real command -----------------------------------------------------------------------------


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    """No ORDERPASS_* from the caller's shell, and a database already migrated (as
    `orderpass db upgrade` leaves it, copied from the session's template: one process fewer)."""
    clean = clean_environment()
    return {**clean, "ORDERPASS_DATABASE_URL": database_url}


def test_the_command_plays_against_a_served_orderpass_with_its_dev_credentials(env):
    with serving(env) as server:
        result = run(
            "simulate", "--port", str(server.port), "--count", "3", "--rate", "600", "--seed", "5", env=env
        )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert sum(line.startswith("placed ord_") for line in lines) == 3
    assert lines[-1].startswith("simulated ")
    assert "3 placed" in lines[-1]
    assert "0 requests failed" in lines[-1]


def test_the_command_says_which_address_it_could_not_reach_and_exits_non_zero(env):
    port = free_port()
    result = run("simulate", "--host", "127.0.0.1", "--port", str(port), "--count", "1", env=env)
    assert result.returncode == 1
    assert f"cannot reach an orderpass at http://127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr  # and how to point it elsewhere
    assert result.stdout == ""
