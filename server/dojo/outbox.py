"""Delivering the outbox to Dojo: a background dispatcher, at least once, nothing lost.

Every change Dojo cares about owes Dojo an `OrderUpdated` event, written in the change's own
transaction (server/service.py), so a crash loses neither. This dispatcher claims due events
(so several workers do not send the same one at once), posts them, and marks them delivered;
a failure is retried with exponential backoff, and an order that changed again while its event
was on the way is sent again. Nothing a Dojo request waits on ever waits on this.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import datetime, timedelta
from typing import Final

from server import spans
from server.background import Worker
from server.broker import Broker
from server.changes import outbox
from server.changes.model import CHANNEL
from server.clock import Clock
from server.dojo.client import DojoApi
from server.errors import OrderpassError
from server.store import Store

log = logging.getLogger("orderpass.dojo.outbox")
CLAIM: Final = timedelta(seconds=60)  # longer than one delivery with its retries can take
MAX_BACKOFF: Final = 300.0


def backoff(attempts: int) -> timedelta:
    """1s, 2s, 4s ... up to five minutes, with a little jitter so workers do not march in step."""
    seconds = min(2.0 ** max(attempts - 1, 0), MAX_BACKOFF)
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))


class Dispatcher(Worker):
    name = "orderpass-dojo-outbox"

    def __init__(
        self,
        *,
        store: Store,
        dojo: DojoApi,
        clock: Clock,
        broker: Broker,
        delay: timedelta,
        poll_seconds: float = 1.0,
        batch: int = 50,
    ) -> None:
        self.store = store
        self.dojo = dojo
        self.clock = clock
        self.broker = broker
        self.delay = delay
        self.poll_seconds = poll_seconds
        self.batch = batch

    async def deliver_due(self) -> tuple[int, int]:
        """Send the events that are due now (a batch of them): how many were sent, how many Dojo took."""
        now = self.clock.now()
        async with self.store.write() as tx:
            owed = await outbox.claim(tx, now=now, until=now + CLAIM, limit=self.batch)
        results = await asyncio.gather(*(self._deliver(o) for o in owed))
        return len(owed), sum(results)

    async def _deliver(self, owed: outbox.Owed) -> bool:
        """One event, in the trace of the change that owed it (while tracing): the delivery's span,
        its call to Dojo (with `traceparent`), and the statements that mark it."""
        attributes = {"orderpass.order_id": owed.order_id, "orderpass.attempt": owed.attempts + 1}
        with spans.continued("dojo.outbox OrderUpdated", owed.traceparent, attributes=attributes):
            try:
                await self.dojo.order_updated(owed.order_id)
            except (OrderpassError, OSError) as exc:
                retry = self.clock.now() + backoff(owed.attempts + 1)
                log.warning(
                    "OrderUpdated for %s failed (attempt %d): %s", owed.order_id, owed.attempts + 1, exc
                )
                async with self.store.write() as tx:
                    await outbox.failed(tx, owed, error=str(exc), retry_at=retry)
                return False
            async with self.store.write() as tx:
                return await outbox.delivered(tx, owed, now=self.clock.now())

    async def run(self, ready: asyncio.Event) -> None:
        async with self.broker.subscribe(CHANNEL) as changes:
            ready.set()
            woken: asyncio.Future[str] | None = None
            try:
                while True:
                    woken = woken or asyncio.ensure_future(anext(changes))
                    done, _ = await asyncio.wait({woken}, timeout=self.poll_seconds)
                    if done:
                        woken = None
                        await asyncio.sleep(self.delay.total_seconds())  # let a burst settle into one event
                    await self._deliver_quietly()
            finally:
                if woken is not None:
                    woken.cancel()

    async def _deliver_quietly(self) -> None:
        try:
            while (await self.deliver_due())[0] >= self.batch:
                pass  # a backlog: keep going while whole batches go out
        except OrderpassError as exc:  # the store is down: the next wake or poll tries again
            log.warning("could not read the outbox: %s", exc)
        except Exception:
            log.exception("the Dojo outbox dispatcher failed; it carries on")


def describe(found: outbox.Depth, now: datetime) -> str:
    if not found.owed:
        return "nothing owed to Dojo"
    age = int((now - found.oldest).total_seconds()) if found.oldest else 0
    return f"{found.owed} events owed to Dojo ({found.failing} failing), the oldest {age}s old"
