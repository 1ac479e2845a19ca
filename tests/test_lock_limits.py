"""Dojo's locks cannot block staff for long: a lock lives at most `dojo_lock_max_seconds`
(a lock asked for until 9999 is capped, not refused), and an admin can remove one, on the
record, with `releaseLock`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from server.actors import Actor
from server.cashier import Cashier
from server.clock import ManualClock
from server.errors import Conflict
from server.locks import Lock
from server.orders import Orders
from server.roles import Role
from server.settings import Settings
from tests.conftest import LiveServer, dojo_client
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


# -- over HTTP: Dojo's REST door ---------------------------------------


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
