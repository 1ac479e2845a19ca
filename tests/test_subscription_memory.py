"""A subscription's memory does not grow with the changes it delivers: a kitchen screen stays
subscribed all day, and a replay of the whole history is thousands of changes at once."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
from collections.abc import AsyncIterator

import pytest

from schema import build_schema
from schema.context import Context
from server.actors import Actor
from server.changes.feed import Feed
from server.orders.service import Orders
from server.services import Services
from server.staff.roles import Role
from tests.conftest import as_staff
from tests.factories import make_draft

SCHEMA = build_schema()
KITCHEN = Actor.staff("kitchen", Role.KITCHEN)
ADMIN = Actor.staff("admin", Role.ADMIN)
SCREEN = """subscription($since: Int) { orderChanges(since: $since) { sequence order {
  id status items { name modifiers { name } subItems { name } } totalAmount { formatted } } } }"""


@pytest.fixture
async def context(services: Services) -> AsyncIterator[Context]:
    feed = Feed(orders=services.orders, broker=services.broker, poll_seconds=0.2)
    await feed.start()
    yield as_staff(dataclasses.replace(services, feed=feed), KITCHEN)
    await feed.stop()


def executor_memo() -> int:
    """What graphql-core's executors keep of every event's field collection, alive right now."""
    gc.collect()
    return sum(type(found).__name__ == "CollectedFields" for found in gc.get_objects())


async def test_a_subscription_keeps_nothing_per_change_it_delivers(context: Context, orders: Orders):
    for _ in range(10):
        await orders.place(make_draft(), by=ADMIN)
    stream = await SCHEMA.subscribe(SCREEN, variable_values={"since": 0}, context_value=context)
    try:
        for _ in range(10):
            assert (await asyncio.wait_for(anext(stream), 5)).errors is None
        before = executor_memo()
        for _ in range(150):
            await orders.place(make_draft(), by=ADMIN)
        for _ in range(150):
            assert (await asyncio.wait_for(anext(stream), 5)).errors is None
        after = executor_memo()
    finally:
        await stream.aclose()
    assert after - before < 10, f"{after - before} field collections kept for 150 changes"
