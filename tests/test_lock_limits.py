"""Dojo's locks cannot block staff for long: a lock lives at most `dojo_lock_max_seconds`
(a lock asked for until 9999 is capped, not refused), and an admin can remove one, on the
record, with `releaseLock`."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from server.actors import Actor, ActorKind
from server.changes.model import ChangeKind
from server.clock import ManualClock, iso
from server.errors import Conflict, Forbidden, InvalidRequest
from server.orders.service import Orders
from server.payments.cashier import Cashier
from server.payments.model import Lock
from server.settings import Settings
from server.staff.roles import Role
from tests.conftest import LiveServer, dojo_client, mint
from tests.factories import make_draft, make_order

YEAR_9999 = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
LONGEST = timedelta(seconds=600)  # the default
DOJO = Actor.dojo({"dojo-requesting-product": "Pay at Table"})
MANAGER = Actor.staff("manager", Role.ADMIN)


async def placed(orders: Orders) -> str:
    return (await orders.place(make_draft(payments=[]), by=DOJO)).id


# -- the cap, in the service layer --------------------------------------------------------------


async def test_a_lock_asked_for_until_9999_lives_ten_minutes(
    orders: Orders, cashier: Cashier, clock: ManualClock
):
    order_id = await placed(orders)

    locked = await cashier.lock(order_id, lock_id="lock_a", expiry=YEAR_9999, by=DOJO)

    assert locked.lock == Lock("lock_a", clock.now() + LONGEST)  # the answer shows the cap
    assert (await orders.get(order_id)).lock == Lock("lock_a", clock.now() + LONGEST)


async def test_an_extension_to_9999_is_capped_from_the_moment_of_the_extension(
    orders: Orders, cashier: Cashier, clock: ManualClock
):
    order_id = await placed(orders)
    await cashier.lock(order_id, lock_id="lock_a", expiry=clock.now() + timedelta(seconds=30), by=DOJO)
    clock.advance(timedelta(seconds=20))

    extended = await cashier.extend(order_id, lock_id="lock_a", expiry=YEAR_9999, by=DOJO)

    assert extended.lock == Lock("lock_a", clock.now() + LONGEST)
    assert (await orders.get(order_id)).lock == Lock("lock_a", clock.now() + LONGEST)


async def test_an_expiry_within_the_cap_is_kept_as_dojo_asked(
    orders: Orders, cashier: Cashier, clock: ManualClock
):
    order_id = await placed(orders)
    asked = clock.now() + LONGEST - timedelta(milliseconds=1)

    assert (await cashier.lock(order_id, lock_id="lock_a", expiry=asked, by=DOJO)).lock == Lock(
        "lock_a", asked
    )


async def test_staff_may_cancel_once_a_capped_lock_lapses(
    orders: Orders, cashier: Cashier, clock: ManualClock
):
    order_id = await placed(orders)
    await cashier.lock(order_id, lock_id="lock_a", expiry=YEAR_9999, by=DOJO)
    with pytest.raises(Conflict):
        await orders.cancel(order_id, by=MANAGER)

    clock.advance(LONGEST)

    assert (await orders.cancel(order_id, by=MANAGER)).status == "Canceled"


def test_the_cap_is_a_setting_of_ten_minutes_by_default():
    assert Settings().dojo_lock_max_seconds == Settings.from_env({}).dojo_lock_max_seconds == 600
    assert Settings.from_env({"ORDERPASS_DOJO_LOCK_MAX_SECONDS": "90"}).dojo_lock_max_seconds == 90


# -- the override, in the service layer ---------------------------------------------------------


async def test_an_admin_releases_dojos_lock_on_the_record_and_the_change_is_published(
    orders: Orders, cashier: Cashier, clock: ManualClock
):
    order_id = await placed(orders)
    await cashier.lock(order_id, lock_id="lock_a", expiry=YEAR_9999, by=DOJO)
    before = await orders.last_sequence()

    released = await cashier.release_lock(order_id, reason="terminal died mid-payment", by=MANAGER)

    assert released.lock is None
    assert (await orders.get(order_id)).lock is None
    assert [c.kind for c in await orders.changes_after(before, limit=10)] == [ChangeKind.LOCK_OVERRIDDEN]
    entry = (await orders.history(order_id))[-1]
    assert (entry.kind, entry.actor.label, entry.at) == (
        ChangeKind.LOCK_OVERRIDDEN,
        "staff:manager",
        clock.now(),
    )
    assert entry.detail == {
        "lockId": "lock_a",
        "expiry": iso(clock.now() + LONGEST),
        "reason": "terminal died mid-payment",
    }
    assert (await orders.cancel(order_id, by=MANAGER)).status == "Canceled"


@pytest.mark.parametrize("role", [Role.KITCHEN, Role.VIEWER])
async def test_only_an_admin_may_release_a_lock(orders: Orders, cashier: Cashier, role: Role):
    order_id = await placed(orders)
    await cashier.lock(order_id, lock_id="lock_a", expiry=YEAR_9999, by=DOJO)

    with pytest.raises(Forbidden):
        await cashier.release_lock(order_id, reason="in the way", by=Actor.staff("cook", role))

    assert (await orders.get(order_id)).lock is not None


async def test_releasing_needs_a_held_lock_and_a_reason(orders: Orders, cashier: Cashier, clock: ManualClock):
    order_id = await placed(orders)
    with pytest.raises(Conflict):
        await cashier.release_lock(order_id, reason="nothing there", by=MANAGER)
    await cashier.lock(order_id, lock_id="lock_a", expiry=clock.now() + timedelta(seconds=30), by=DOJO)
    with pytest.raises(InvalidRequest):
        await cashier.release_lock(order_id, reason="  ", by=MANAGER)
    clock.advance(timedelta(seconds=30))
    with pytest.raises(Conflict):  # a lapsed lock holds nothing up
        await cashier.release_lock(order_id, reason="late", by=MANAGER)


# -- over HTTP: Dojo's REST door and the GraphQL mutation ---------------------------------------

RELEASE = """mutation($id: ID!, $reason: String!) { releaseLock(orderId: $id, reason: $reason) {
  __typename ... on Problem { message } } }"""
HISTORY = """query($id: ID!) { order(id: $id) { history { kind actor { kind name } detail } } }"""


@pytest.fixture
def live_clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def server(serve: Callable[..., LiveServer], live_clock: ManualClock) -> LiveServer:
    return serve(clock=live_clock, dojo_lock_max_seconds=60)


@pytest.fixture
async def dojo(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with dojo_client(server) as client:
        yield client


async def staff(server: LiveServer, role: Role, query: str, **variables: Any) -> dict[str, Any]:
    token = await mint(server.settings, role, f"{role.value}-{os.urandom(3).hex()}")
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as client:
        answer = await client.post("/graphql", json={"query": query, "variables": variables})
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


async def test_the_setting_caps_a_lock_taken_over_rest(
    server: LiveServer, dojo: httpx.AsyncClient, live_clock: ManualClock
):
    order_id = (await dojo.post("/v1/orders", json=make_order(payments=[]))).json()["id"]
    body = {"lockId": "lock_a", "expiry": "9999-12-31T23:59:00Z"}
    assert (await dojo.post(f"/v1/orders/{order_id}/lock", json=body)).status_code == 200
    live_clock.advance(timedelta(seconds=59))
    assert (
        await dojo.post(f"/v1/orders/{order_id}/lock", json=body | {"lockId": "lock_b"})
    ).status_code == 409

    live_clock.advance(timedelta(seconds=1))

    assert (
        await dojo.post(f"/v1/orders/{order_id}/lock", json=body | {"lockId": "lock_b"})
    ).status_code == 200


async def test_release_lock_over_graphql_for_an_admin_only(
    server: LiveServer, dojo: httpx.AsyncClient, live_clock: ManualClock
):
    order_id = (await dojo.post("/v1/orders", json=make_order(payments=[]))).json()["id"]
    expiry = iso(live_clock.now() + timedelta(seconds=30))
    assert (
        await dojo.post(f"/v1/orders/{order_id}/lock", json={"lockId": "lock_a", "expiry": expiry})
    ).is_success

    for role in (Role.KITCHEN, Role.VIEWER):
        refused = await staff(server, role, RELEASE, id=order_id, reason="in the way")
        assert refused["releaseLock"]["__typename"] == "Forbidden"
    released = await staff(server, Role.ADMIN, RELEASE, id=order_id, reason="card machine lost")
    assert released["releaseLock"] == {"__typename": "Order"}

    body = {"lockId": "lock_b", "expiry": expiry}
    assert (await dojo.post(f"/v1/orders/{order_id}/lock", json=body)).status_code == 200  # free again
    history = (await staff(server, Role.VIEWER, HISTORY, id=order_id))["order"]["history"]
    (override,) = [entry for entry in history if entry["kind"] == "LOCK_OVERRIDDEN"]
    assert override["actor"] == {"kind": ActorKind.STAFF.name, "name": override["actor"]["name"]}
    assert override["actor"]["name"].startswith("admin-")
    assert override["detail"] == {"lockId": "lock_a", "expiry": expiry, "reason": "card machine lost"}
