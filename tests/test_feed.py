"""The live feed: replay then live with no gap and no duplicate, per-subscriber filters, and
subscribers that fall behind catching up from the store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pytest

from server.actors import Actor
from server.broker.memory import MemoryBroker
from server.changes.feed import RECENT, Delivery, Feed
from server.changes.model import ChangeKind
from server.lifecycle import OrderStatus
from server.orders.service import Orders
from tests.factories import make_draft
from tests.waiting import until

STAFF = Actor.staff("expo")
S = OrderStatus


@pytest.fixture
async def feed(orders: Orders, broker: MemoryBroker) -> AsyncIterator[Feed]:
    feed = Feed(orders=orders, broker=broker, queue_size=8, poll_seconds=0.2)
    await feed.start()
    yield feed
    await feed.stop()


async def take(deliveries: AsyncIterator[Delivery], count: int) -> list[Delivery]:
    return [await asyncio.wait_for(anext(deliveries), 5) for _ in range(count)]


async def nothing_more(deliveries: AsyncIterator[Delivery]) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(deliveries), 0.3)


async def test_a_live_subscriber_sees_each_change_once_in_order(feed: Feed, orders: Orders):
    async with feed.subscribe() as deliveries:
        placed = await orders.place(make_draft(), by=STAFF)
        await orders.move(placed.id, S.ACCEPTED, by=STAFF)
        got = await take(deliveries, 2)
        await nothing_more(deliveries)
    assert [d.change.kind for d in got] == [ChangeKind.CREATED, ChangeKind.STATUS_CHANGED]
    assert got[0].change.sequence < got[1].change.sequence
    assert got[1].order.status is S.ACCEPTED


async def test_since_replays_what_was_missed_then_goes_live_without_a_duplicate(feed: Feed, orders: Orders):
    first = await orders.place(make_draft(), by=STAFF)
    since = await orders.last_sequence()
    missed = [await orders.place(make_draft(), by=STAFF) for _ in range(3)]
    async with feed.subscribe(since=since) as deliveries:
        replayed = await take(deliveries, 3)
        live = await orders.move(first.id, S.ACCEPTED, by=STAFF)
        (after,) = await take(deliveries, 1)
        await nothing_more(deliveries)
    assert [d.order.id for d in replayed] == [o.id for o in missed]
    assert after.order.id == live.id
    sequences = [d.change.sequence for d in [*replayed, after]]
    assert sequences == sorted(set(sequences))


async def test_screens_replaying_the_same_change_share_one_delivery(feed: Feed, orders: Orders):
    """A thousand screens reconnecting replay the same changes: one Delivery (and so one
    rendering of it, server/changes/feed.Feed._shared) for them all; once the order has changed,
    a replay gets it as it is now, not the kept one."""
    placed = await orders.place(make_draft(), by=STAFF)
    async with feed.subscribe(since=0) as first, feed.subscribe(since=0) as second:
        (one,) = await take(first, 1)
        (other,) = await take(second, 1)
    assert one is other
    moved = await orders.move(placed.id, S.ACCEPTED, by=STAFF)
    async with feed.subscribe(since=0) as later:
        created, accepted = await take(later, 2)
    assert created is not one
    assert created.change == one.change
    assert created.order.status is accepted.order.status is S.ACCEPTED
    assert accepted.order == moved


async def test_the_deliveries_kept_to_share_are_bounded(feed: Feed, orders: Orders):
    for _ in range(RECENT + 20):
        await orders.place(make_draft(), by=STAFF)
    async with feed.subscribe(since=0) as everything:
        replayed = await take(everything, RECENT + 20)
    assert len({d.change.sequence for d in replayed}) == RECENT + 20
    kept = [d.change.sequence for d in feed._recent.values()]
    assert len(kept) == RECENT
    assert min(kept) > replayed[19].change.sequence  # the oldest let go (the live reader read them too)


async def test_changes_committed_while_replaying_arrive_once(feed: Feed, orders: Orders):
    for _ in range(5):
        await orders.place(make_draft(), by=STAFF)
    async with feed.subscribe(since=0) as deliveries:
        writer = asyncio.gather(*(orders.place(make_draft(), by=STAFF) for _ in range(5)))
        got = await take(deliveries, 10)
        await writer
        await nothing_more(deliveries)
    sequences = [d.change.sequence for d in got]
    assert sequences == sorted(set(sequences))
    assert len(sequences) == 10


async def test_statuses_filter_keeps_orders_arriving_in_or_leaving_them(feed: Feed, orders: Orders):
    kitchen = frozenset({S.NEW, S.ACCEPTED, S.PREPARING})
    placed = await orders.place(make_draft(), by=STAFF)
    for status in (S.ACCEPTED, S.PREPARING):
        await orders.move(placed.id, status, by=STAFF)
    async with feed.subscribe(statuses=kitchen) as deliveries:
        await orders.move(placed.id, S.PREPARED, by=STAFF)  # leaves the kitchen: a screen must hear
        await orders.move(placed.id, S.READY, by=STAFF)  # Prepared -> Ready: none of its business
        await orders.move(placed.id, S.PREPARED, by=STAFF)  # recalled within the pass: still not
        await orders.move(placed.id, S.PREPARING, by=STAFF)  # recalled into the kitchen: yes
        got = await take(deliveries, 2)
        await nothing_more(deliveries)
    assert [(d.change.from_status, d.change.to_status) for d in got] == [
        (S.PREPARING, S.PREPARED),
        (S.PREPARED, S.PREPARING),
    ]


async def test_a_subscriber_that_stops_reading_is_not_waited_for_and_catches_up(feed: Feed, orders: Orders):
    async with feed.subscribe() as slow, feed.subscribe() as fast:
        ids = []
        for _ in range(20):  # more than the queue (8) holds
            ids.append((await orders.place(make_draft(), by=STAFF)).id)
            assert (await take(fast, 1))[0].order.id == ids[-1]
        caught_up = await take(slow, 20)
        await nothing_more(slow)
    assert [d.order.id for d in caught_up] == ids


async def test_leaving_unsubscribes(feed: Feed):
    async with feed.subscribe():
        assert feed.subscriber_count == 1
    assert feed.subscriber_count == 0


async def test_a_lost_notification_costs_a_moment_not_a_change(orders: Orders, store):
    quiet = MemoryBroker()  # the service publishes to another broker: the feed is never woken
    feed = Feed(orders=orders, broker=quiet, poll_seconds=0.1)
    await feed.start()
    try:
        async with feed.subscribe() as deliveries:
            placed = await orders.place(make_draft(), by=STAFF)
            (got,) = await take(deliveries, 1)
        assert got.order.id == placed.id
    finally:
        await feed.stop()


async def test_a_burst_past_the_queue_while_the_reader_waits_still_arrives_whole(feed: Feed, orders: Orders):
    """The reader is parked waiting for its next delivery when one wake-up offers it more than
    its queue holds (a group commit of twelve): it falls behind while asleep, and must wake to
    catch up from the store, not wait for offers that no longer come."""
    async with feed.subscribe() as deliveries:
        waiting = asyncio.ensure_future(anext(deliveries))
        await asyncio.sleep(0.05)  # parked in the feed, before anything was committed
        placed = await asyncio.gather(*(orders.place(make_draft(), by=STAFF) for _ in range(12)))
        first = await asyncio.wait_for(waiting, 5)
        rest = await take(deliveries, 11)
        await nothing_more(deliveries)
    assert sorted(d.order.id for d in [first, *rest]) == sorted(o.id for o in placed)


class _FailsOnce:
    """The broker the feed listens on, whose first subscription breaks at its first message (an
    error the feed does not expect, as a driver's own bug would be); every later one works."""

    def __init__(self, broker: MemoryBroker) -> None:
        self.broker = broker
        self.subscriptions = 0

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[str]]:
        self.subscriptions += 1
        async with self.broker.subscribe(channel) as messages:
            yield messages if self.subscriptions > 1 else self._broken(messages)

    async def _broken(self, messages: AsyncIterator[str]) -> AsyncIterator[str]:
        await anext(messages)
        raise RuntimeError("deque mutated during iteration")
        yield ""  # an async generator


async def test_a_feed_that_fails_runs_again_and_misses_nothing(orders: Orders, broker: MemoryBroker, caplog):
    """A feed whose reader died stayed dead, and every screen went without live changes until the
    process stopped (a tracing listener added mid-connect did it, tests/test_tracing.py). It is
    logged and run again, and goes on from the change it had reached, not from the newest."""
    flaky = _FailsOnce(broker)
    feed = Feed(orders=orders, broker=flaky, poll_seconds=30)  # type: ignore[arg-type]
    await feed.start()
    try:
        async with feed.subscribe() as deliveries:
            waiting = asyncio.ensure_future(anext(deliveries))
            await asyncio.sleep(0.05)  # past its replay: what comes now comes live
            with caplog.at_level(logging.ERROR, logger="orderpass.worker"):
                placed = await orders.place(make_draft(), by=STAFF)  # its wake-up breaks the reader
                await until(lambda: flaky.subscriptions == 2)  # run again, a second later
                later = await orders.place(make_draft(), by=STAFF)  # wakes it
                got = [await asyncio.wait_for(waiting, 5), *await take(deliveries, 1)]
    finally:
        await feed.stop()
    assert [d.order.id for d in got] == [placed.id, later.id]
    (record,) = [r for r in caplog.records if r.name == "orderpass.worker"]
    assert "orderpass-feed failed; running it again" in record.getMessage()
