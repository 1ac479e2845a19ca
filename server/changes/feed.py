"""The live feed of committed changes, fanned out in-process to every subscriber.

One broker subscription per process wakes one reader. It reads `sequence > last` from the
store once, loads the changed orders once, and hands the same Delivery to every subscriber;
it also polls now and then, so a lost notification costs a moment, never a change.

A subscriber registers first, then replays what it missed from the store, then takes live
deliveries, skipping any it already has: no gap and no duplicate at the seam. A subscriber
whose queue fills (a screen that stopped reading) is not waited for: it is marked behind,
its queue is dropped, and it catches up from the store, from its own cursor, when it reads again.

Replays take turns, process-wide: one socket asking for fifty replays of the whole history
held fifty batches of orders at once (93 -> 614 MB, Dojo calls slowed to 2.5 s). A replay
reads and hands on one batch per turn, at most `max_replays` at a time; between turns, and
while it waits for one, it holds nothing but its cursor (bench/replays.py). Replays of the same
change share one Delivery, as live subscribers do: the feed keeps the newest hundred it read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Final

from server import spans
from server.background import Worker
from server.broker import Broker
from server.changes.model import CHANNEL, Change
from server.errors import Unavailable
from server.lifecycle import OrderStatus
from server.orders.model import Order
from server.orders.service import Orders
from server.pacing import paced

log = logging.getLogger("orderpass.feed")
BATCH: Final = 100  # changes read at a time; 500 let a replay storm peak ~100 MB higher
RECENT: Final = BATCH  # deliveries kept to share with whoever reads the same change next


@dataclass(frozen=True, slots=True)
class Delivery:
    change: Change
    order: Order  # as it is when the feed read it
    # What the doors made of it, shared by every subscriber it reaches (rendered once).
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(eq=False)
class _Subscriber:
    """What one subscriber has yet to take: a short list and at most one waiter, not an
    asyncio.Queue (four deques and an Event: ~2 KB for each of a thousand idle screens,
    bench/fanout.py; an empty deque alone is ~600 bytes, an empty list 56)."""

    limit: int
    pending: list[Delivery] = field(default_factory=list)
    waiter: asyncio.Future[None] | None = None
    behind: bool = False
    statuses: frozenset[OrderStatus] | None = field(default=None)

    def offer(self, delivery: Delivery) -> None:
        if self.behind:
            return
        if len(self.pending) >= self.limit:
            self.behind = True
            self.pending = []  # let the backlog go; the store has it
        else:
            self.pending.append(delivery)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def take(self) -> Delivery | None:
        """The next delivery, or None once this subscriber fell behind (its reader replays from
        the store). A reader asleep here when a burst overflows is woken to do so: no offer
        comes to a subscriber that is behind."""
        while not self.pending:
            if self.behind:
                return None
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        return self.pending.pop(0)  # at most queue_size long

    def wants(self, change: Change) -> bool:
        return self.statuses is None or change.touches(self.statuses)


class Feed(Worker):
    name = "orderpass-feed"

    def __init__(
        self,
        *,
        orders: Orders,
        broker: Broker,
        queue_size: int = 256,
        poll_seconds: float = 5.0,
        max_replays: int = 8,
        batch: int = BATCH,
    ) -> None:
        self.orders = orders
        self.broker = broker
        self.queue_size = queue_size
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.replays_running = 0
        self.replays_peak = 0  # the most that ever read at once (tests check the bound holds)
        self._replays = asyncio.Semaphore(max_replays)
        self._subscribers: set[_Subscriber] = set()
        self._last = 0  # the newest change fanned out (or skipped)
        self._placed = False  # whether _last was set: a run after a failure goes on from it
        self._recent: OrderedDict[tuple[int, int], Delivery] = OrderedDict()  # see _shared

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    @contextlib.asynccontextmanager
    async def subscribe(
        self, *, since: int | None = None, statuses: frozenset[OrderStatus] | None = None
    ) -> AsyncIterator[AsyncIterator[Delivery]]:
        """Every change after `since` (or from now on), each exactly once, in sequence order."""
        subscriber = _Subscriber(self.queue_size, statuses=statuses)
        self._subscribers.add(subscriber)  # first: nothing committed from here on can be missed
        try:
            start = await self.orders.last_sequence() if since is None else since
            # Closed on the way out, not when collected: a replay gives up its turn at once.
            async with contextlib.aclosing(self._deliveries(subscriber, start)) as deliveries:
                yield deliveries
        finally:
            self._subscribers.discard(subscriber)

    async def _deliveries(self, subscriber: _Subscriber, last: int) -> AsyncGenerator[Delivery, None]:
        subscriber.behind = True  # it starts behind: the first pass replays what it missed since `last`
        while True:
            if subscriber.behind:
                subscriber.behind = False  # first: what the reader sees from now on is queued again
                async with contextlib.aclosing(self._replay(last)) as missed:
                    async for delivery in missed:
                        last = delivery.change.sequence
                        if subscriber.wants(delivery.change):
                            yield delivery
                        # Not held while waiting for the next: a replayed delivery is this
                        # subscriber's own copy of the order (~30 KB a screen, bench/fanout.py).
                        del delivery
            live = await subscriber.take()
            if live is None or live.change.sequence <= last:  # None: fell behind, replayed above
                continue
            last = live.change.sequence
            if subscriber.wants(live.change):
                yield live
            del live

    async def _replay(self, after: int) -> AsyncGenerator[Delivery, None]:
        while True:
            async with self._turn():
                batch = await self._read_batch(after)
                async for delivery in paced(batch):  # each is rendered and sent before the next
                    yield delivery
            if not batch:
                return
            after, batch = batch[-1].change.sequence, []  # wait for the next turn with the cursor only

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        async with self._replays:
            self.replays_running += 1
            self.replays_peak = max(self.replays_peak, self.replays_running)
            try:
                yield
            finally:
                self.replays_running -= 1

    async def _read_batch(self, after: int) -> list[Delivery]:
        """The next changes after `after`, each with its order (orders are never deleted)."""
        changes = await self.orders.changes_after(after, limit=self.batch)
        if not changes:
            return []
        ids = list(dict.fromkeys(change.order_id for change in changes))
        orders = {order.id: order for order in await self.orders.get_many(ids)}
        return [self._shared(change, orders[change.order_id]) for change in changes]

    def _shared(self, change: Change, order: Order) -> Delivery:
        """One Delivery for a change and its order as read, however many read them. A thousand
        screens reconnecting after a restart replay the same few changes: each made its own
        Delivery, so each built and rendered its own copy of the order (bench/fanout.py), and
        kept it, ~10 KB a screen, until its next change (graphql-core's iterator holds the last
        event). An order read again unchanged is the same object (server/orders/rows.py), so
        the key is the change and the order's identity: an order changed since is another key,
        and a replay still gets the order as it is now. The newest RECENT are kept."""
        key = (change.sequence, id(order))  # the kept Delivery holds the order: its id is not reused
        found = self._recent.get(key)
        if found is not None:
            self._recent.move_to_end(key)
            return found
        found = self._recent[key] = Delivery(change, order)
        if len(self._recent) > RECENT:
            self._recent.popitem(last=False)
        return found

    async def run(self, ready: asyncio.Event) -> None:
        """The one reader: wakes on the broker (or a poll), fans each change out to subscribers."""
        async with self.broker.subscribe(CHANNEL) as messages:
            ready.set()
            if not self._placed:
                self._last, self._placed = await self._newest(), True
            woken: asyncio.Future[str] | None = None
            try:
                while True:
                    woken = woken or asyncio.ensure_future(anext(messages))
                    done, _ = await asyncio.wait({woken}, timeout=self.poll_seconds)
                    message = woken.result() if done else None
                    woken = None if done else woken
                    if self._subscribers:
                        with spans.continued("feed orderpass.changes", _traceparent(message)):
                            await self._fan_out()
                    else:
                        self._skip(message)
            finally:
                if woken is not None:
                    woken.cancel()

    def _skip(self, message: str | None) -> None:
        """Nobody listens: move past the change the message names without reading anything (a
        subscriber who arrives later replays from the store, from its own starting point)."""
        with contextlib.suppress(ValueError, KeyError, TypeError):
            self._last = max(self._last, Change.from_json(message).sequence) if message else self._last

    async def _newest(self) -> int:
        """Where live delivery starts; waits (without holding up startup) for the store to answer."""
        delay = 0.5
        while True:
            try:
                return await self.orders.last_sequence()
            except Unavailable as exc:
                log.warning("feed waits for the store: %s", exc.message)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _fan_out(self) -> None:
        try:
            while batch := await self._read_batch(self._last):
                for delivery in batch:
                    for subscriber in tuple(self._subscribers):
                        subscriber.offer(delivery)
                self._last = batch[-1].change.sequence
        except Unavailable as exc:  # the next wake or poll tries again
            log.warning("feed could not read changes: %s", exc.message)
        except Exception:  # a bug must not silence every screen: log it, and try again next wake
            log.exception("feed failed to read changes after %s", self._last)


def _traceparent(message: str | None) -> str | None:
    """The trace of the change that woke the feed, while tracing (nothing is parsed when off)."""
    if message is None or not spans.tracing():
        return None
    with contextlib.suppress(ValueError, AttributeError):
        return Change.traceparent_in(message)
    return None
