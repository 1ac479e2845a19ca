"""Pay at Table over real HTTP: RecordOrderPayment, Dojo's order locks, and GetOrderBill."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from server.actors import POS
from server.clock import ManualClock, iso
from server.floor.model import Area, FloorPlan, Table
from server.money import MAX_VALUE
from server.services import Services
from server.staff.roles import Role
from tests.conftest import LiveServer, dojo_client, mint
from tests.factories import item, make_order, modifier, money


@pytest.fixture
def clock() -> ManualClock:
    from datetime import UTC, datetime

    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def server(serve: Callable[..., LiveServer], clock: ManualClock) -> LiveServer:
    return serve(
        clock=clock,
        merchant_name="The Example Arms",
        merchant_address=("1 High Street", "Exampleton"),
        merchant_postcode="EX1 2MP",
        merchant_vat_number="GB 123 4567 89",
    )


@pytest.fixture
async def dojo(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with dojo_client(server) as client:
        yield client


def unpaid(total: int = 2400) -> dict[str, Any]:
    """£24: two burgers at £11 with £1 of cheese each, no payment yet."""
    burger = item("Burger", 1100, 2, modifiers=[modifier("Cheese", 100)])
    return make_order(
        items=[burger],
        discounts=[],
        taxLines=[],
        serviceChargeAmount=None,
        totalAmount=money(total),
        payments=[],
    )


def paying(intent: str, value: int, tips: int = 0, lock_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"paymentIntentId": intent, "paidAmount": money(value)}
    if tips:
        body["tipsAmount"] = money(tips)
    if lock_id:
        body["lockId"] = lock_id
    return body


async def place(dojo: httpx.AsyncClient, body: dict[str, Any]) -> str:
    response = await dojo.post("/v1/orders", json={k: v for k, v in body.items() if v is not None})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def eposerror(response: httpx.Response, status: int, error_type: str) -> str:
    assert response.status_code == status, response.text
    assert response.json()["errorType"] == error_type
    return str(response.json()["debugMessage"])


# -- RecordOrderPayment -------------------------------------------------------------------------


async def test_a_split_bill_pays_in_parts_and_leaves_the_order_to_the_kitchen(dojo: httpx.AsyncClient):
    order_id = await place(dojo, unpaid())
    first = (
        await dojo.post(f"/v1/orders/{order_id}/record-payment", json=paying("pi_split_1", 1000, tips=150))
    ).json()
    assert (first["paidAmount"], first["payable"]) == (money(1000), True)
    second = (
        await dojo.post(f"/v1/orders/{order_id}/record-payment", json=paying("pi_split_2", 1400))
    ).json()
    assert (second["paidAmount"], second["tipsAmount"], second["payable"]) == (money(2400), money(150), False)
    assert second["status"] == "New"  # Finalized by the kitchen flow, not by the payment


async def test_a_payment_that_takes_the_paid_total_past_the_largest_amount_is_refused(
    dojo: httpx.AsyncClient,
):
    order_id = await place(dojo, unpaid())
    assert (
        await dojo.post(f"/v1/orders/{order_id}/record-payment", json=paying("pi_big", MAX_VALUE))
    ).is_success
    refused = await dojo.post(f"/v1/orders/{order_id}/record-payment", json=paying("pi_more", 1))
    assert "largest amount" in eposerror(refused, 400, "InvalidRequest")
    replayed = await dojo.post(f"/v1/orders/{order_id}/record-payment", json=paying("pi_big", MAX_VALUE))
    assert replayed.json()["paidAmount"] == money(MAX_VALUE)  # a replay is not a new payment


async def test_recording_a_payment_twice_records_it_once(dojo: httpx.AsyncClient):
    order_id = await place(dojo, unpaid())
    answers = [
        await dojo.post(f"/v1/orders/{order_id}/record-payment", json=paying("pi_once", 600))
        for _ in range(3)
    ]
    assert {a.status_code for a in answers} == {200}
    assert answers[-1].json()["paidAmount"] == money(600)
    assert len(answers[-1].json()["payments"]) == 1
    other = await dojo.post(f"/v1/orders/{order_id}/record-payment", json=paying("pi_once", 700))
    eposerror(other, 409, "Conflict")


@pytest.mark.parametrize("ending", ["cancel", "fail"])
async def test_a_canceled_or_failed_order_takes_no_payment(
    dojo: httpx.AsyncClient, server: LiveServer, ending
):
    order_id = await place(dojo, unpaid())
    if ending == "cancel":
        await dojo.delete(f"/v1/orders/{order_id}")
    else:
        token = await mint(server.settings, Role.ADMIN)
        mutation = "mutation($id: ID!) { moveOrder(id: $id, to: FAILED) { __typename } }"
        async with httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}
        ) as staff:
            assert (
                await staff.post("/graphql", json={"query": mutation, "variables": {"id": order_id}})
            ).json()["data"]["moveOrder"]["__typename"] == "Order"
    eposerror(
        await dojo.post(f"/v1/orders/{order_id}/record-payment", json=paying("pi_late", 100)), 409, "Conflict"
    )


async def test_a_payment_in_another_currency_is_400(dojo: httpx.AsyncClient):
    order_id = await place(dojo, unpaid())
    body = {"paymentIntentId": "pi_eur", "paidAmount": money(100, "EUR")}
    assert "GBP" in eposerror(
        await dojo.post(f"/v1/orders/{order_id}/record-payment", json=body), 400, "InvalidRequest"
    )
    eposerror(
        await dojo.post("/v1/orders/ord_missing/record-payment", json=paying("pi_x", 1)), 404, "NotFound"
    )


# -- locks --------------------------------------------------------------------------------------


async def test_one_lock_at_a_time_and_payments_only_under_it(dojo: httpx.AsyncClient, clock: ManualClock):
    order_id = await place(dojo, unpaid())
    expiry = iso(clock.now() + timedelta(minutes=2))
    locked = await dojo.post(f"/v1/orders/{order_id}/lock", json={"lockId": "lock_a", "expiry": expiry})
    assert locked.status_code == 200
    assert locked.json()["id"] == order_id
    eposerror(
        await dojo.post(f"/v1/orders/{order_id}/lock", json={"lockId": "lock_b", "expiry": expiry}),
        409,
        "Conflict",
    )
    assert (
        await dojo.post(f"/v1/orders/{order_id}/lock", json={"lockId": "lock_a", "expiry": expiry})
    ).status_code == 200
    assert (await dojo.get(f"/v1/orders/{order_id}")).status_code == 200  # reading never waits on a lock
    stranger = paying("pi_other", 100, lock_id="lock_b")
    eposerror(await dojo.post(f"/v1/orders/{order_id}/record-payment", json=stranger), 409, "Conflict")
    eposerror(
        await dojo.post(f"/v1/orders/{order_id}/record-payment", json=paying("pi_none", 100)), 409, "Conflict"
    )
    paid = await dojo.post(
        f"/v1/orders/{order_id}/record-payment", json=paying("pi_mine", 2400, lock_id="lock_a")
    )
    assert paid.json()["payable"] is False
    released = await dojo.delete(f"/v1/orders/{order_id}/locks/lock_a")
    assert released.status_code == 200
    assert (
        await dojo.delete(f"/v1/orders/{order_id}/locks/lock_a")
    ).status_code == 200  # a retry, after the fact
    assert (
        await dojo.post(f"/v1/orders/{order_id}/lock", json={"lockId": "lock_b", "expiry": expiry})
    ).status_code == 200


async def test_a_lock_past_its_expiry_no_longer_holds(dojo: httpx.AsyncClient, clock: ManualClock):
    order_id = await place(dojo, unpaid())
    soon = iso(clock.now() + timedelta(seconds=30))
    assert (
        await dojo.post(f"/v1/orders/{order_id}/lock", json={"lockId": "lock_a", "expiry": soon})
    ).status_code == 200
    clock.advance(timedelta(seconds=31))  # Dojo vanished mid-payment
    later = iso(clock.now() + timedelta(minutes=1))
    assert (
        await dojo.post(f"/v1/orders/{order_id}/lock", json={"lockId": "lock_b", "expiry": later})
    ).status_code == 200


async def test_extending_a_lock_keeps_it_past_its_first_expiry(dojo: httpx.AsyncClient, clock: ManualClock):
    order_id = await place(dojo, unpaid())
    soon = iso(clock.now() + timedelta(seconds=30))
    await dojo.post(f"/v1/orders/{order_id}/lock", json={"lockId": "lock_a", "expiry": soon})
    extended = await dojo.put(
        f"/v1/orders/{order_id}/locks/lock_a", json={"expiry": iso(clock.now() + timedelta(minutes=5))}
    )
    assert (extended.status_code, extended.json()) == (200, {})
    clock.advance(timedelta(minutes=1))
    eposerror(
        await dojo.post(f"/v1/orders/{order_id}/lock", json={"lockId": "lock_b", "expiry": soon}),
        400,
        "InvalidRequest",
    )
    later = iso(clock.now() + timedelta(minutes=1))
    eposerror(
        await dojo.post(f"/v1/orders/{order_id}/lock", json={"lockId": "lock_b", "expiry": later}),
        409,
        "Conflict",
    )
    eposerror(await dojo.put(f"/v1/orders/{order_id}/locks/lock_b", json={"expiry": later}), 409, "Conflict")


async def test_while_dojo_holds_a_lock_staff_cannot_cancel_but_the_kitchen_cooks_on(
    dojo: httpx.AsyncClient, server: LiveServer, clock: ManualClock
):
    order_id = await place(dojo, unpaid())
    await dojo.post(
        f"/v1/orders/{order_id}/lock",
        json={"lockId": "lock_a", "expiry": iso(clock.now() + timedelta(minutes=5))},
    )
    token = await mint(server.settings, Role.KITCHEN)
    move = "mutation($id: ID!, $to: OrderStatus!) { moveOrder(id: $id, to: $to) { __typename ... on Problem { message } } }"
    cancel = "mutation($id: ID!) { cancelOrder(id: $id) { __typename ... on Problem { message } } }"
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as staff:

        async def run(query: str, **variables: Any) -> dict[str, Any]:
            data = (
                await staff.post(
                    "/graphql", json={"query": query, "variables": {"id": order_id, **variables}}
                )
            ).json()
            return dict(next(iter(data["data"].values())))

        assert (await run(move, to="ACCEPTED"))["__typename"] == "Order"
        refused = await run(cancel)
        assert refused["__typename"] == "Conflict"
        assert "lock_a" in refused["message"]
        assert (await run(move, to="FAILED"))["__typename"] == "Conflict"
        await dojo.delete(f"/v1/orders/{order_id}/locks/lock_a")
        assert (await run(cancel))["__typename"] == "Order"


# -- GetOrderBill -------------------------------------------------------------------------------


async def test_the_bill_names_the_venue_and_adds_up(dojo: httpx.AsyncClient):
    body = unpaid(total=2700) | {"serviceChargeAmount": money(300)}
    order_id = await place(dojo, body)
    await dojo.post(f"/v1/orders/{order_id}/record-payment", json=paying("pi_part", 1000, tips=200))
    bill = (await dojo.get(f"/v1/orders/{order_id}/bill")).json()
    header = bill["header"]["lines"]
    assert header[0] == {"lineType": "MerchantName", "merchantName": {"name": "The Example Arms"}}
    assert header[1]["merchantAddress"] == {
        "addressLines": ["1 High Street", "Exampleton"],
        "postcode": "EX1 2MP",
    }
    assert bill["order"]["id"] == order_id
    footer = [line["text"]["value"] for line in bill["footer"]["lines"] if line["lineType"] == "Text"]
    assert footer[0].startswith("2 x Burger")
    assert footer[0].endswith("£24.00")
    assert "  + Cheese" in footer
    amounts = {
        text.split()[0]: text.split()[-1]
        for text in footer
        if text.split()[0] in {"Service", "TOTAL", "Paid", "Tips", "DUE"}
    }
    assert amounts == {
        "Service": "£3.00",
        "TOTAL": "£27.00",
        "Paid": "£10.00",
        "Tips": "£2.00",
        "DUE": "£17.00",
    }
    assert {"lineType": "TaxNumber", "taxNumber": {"name": "VAT", "number": "GB 123 4567 89"}} in bill[
        "footer"
    ]["lines"]
    assert all(len(text) <= 32 for text in footer)


async def test_the_bill_names_the_table_as_the_floor_does_and_by_dojos_id_where_it_knows_none(
    dojo: httpx.AsyncClient, services: Services
):
    def serves(bill: dict[str, Any]) -> list[str]:
        header = [line["text"]["value"] for line in bill["header"]["lines"] if line["lineType"] == "Text"]
        assert all(len(text) <= 32 for text in header)
        return header[1:-1]  # between the order's name and its reference

    order_id = await place(dojo, unpaid())
    [line] = serves((await dojo.get(f"/v1/orders/{order_id}/bill")).json())
    assert line.startswith("Table 5 · becky ")  # the time beside it
    window = FloorPlan((Area("window", "Window", (), 0),), (Table("5", "Bay 5", "window", 2, (), 0),))
    await services.floor.replace_all(window, by=POS)
    named, printed = serves((await dojo.get(f"/v1/orders/{order_id}/bill")).json())
    assert named == "Bay 5 · Window · becky"  # too long to share a line with the time
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", printed)
