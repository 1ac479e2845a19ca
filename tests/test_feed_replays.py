"""Replays (a subscriber catching up from the store) take turns process-wide: however many
screens ask for everything at once, only `max_replays` read at a time, and each still gets
every change exactly once."""

from __future__ import annotations

import asyncio

from server.actors import Actor
from server.broker.memory import MemoryBroker
from server.changes.feed import Feed
from server.orders.service import Orders
from server.settings import Settings
from tests.factories import make_draft

STAFF = Actor.staff("expo")


async def replay_all(feed: Feed, last: int) -> list[int]:
    """Subscribe since 0 and read until `last`: every sequence seen, in order."""
    seen: list[int] = []
    async with feed.subscribe(since=0) as deliveries:
        async for delivery in deliveries:
            seen.append(delivery.change.sequence)
            if delivery.change.sequence == last:
                return seen
    raise AssertionError("the feed ended")


async def test_concurrent_replays_take_turns_and_each_gets_every_change_once(
    orders: Orders, broker: MemoryBroker
):
    for _ in range(120):
        await orders.place(make_draft(), by=STAFF)
    last = await orders.last_sequence()
    feed = Feed(orders=orders, broker=broker, max_replays=3, batch=50)
    await feed.start()
    try:
        seen = await asyncio.wait_for(asyncio.gather(*(replay_all(feed, last) for _ in range(12))), 60)
    finally:
        await feed.stop()
    assert all(found == list(range(1, last + 1)) for found in seen)
    assert feed.replays_peak == 3
    assert feed.replays_running == 0


async def test_a_screen_that_leaves_mid_replay_gives_up_its_turn(orders: Orders, broker: MemoryBroker):
    for _ in range(5):
        await orders.place(make_draft(), by=STAFF)
    last = await orders.last_sequence()
    feed = Feed(orders=orders, broker=broker, max_replays=1, batch=2)
    async with feed.subscribe(since=0) as deliveries:
        await anext(deliveries)
        assert feed.replays_running == 1  # mid-batch: it holds the only turn
    assert await asyncio.wait_for(replay_all(feed, last), 10) == list(range(1, last + 1))
    assert feed.replays_running == 0


def test_the_bound_is_a_setting():
    assert Settings().max_replays == 8
    assert Settings.from_env({"ORDERPASS_MAX_REPLAYS": "3"}).max_replays == 3
