"""The in-process broker: every subscriber of a channel gets its own bounded queue.

A subscriber that falls behind loses its oldest messages rather than stalling the publisher;
that is safe because messages only wake subscribers, who then read what they missed from the
store.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

QUEUE_SIZE = 1024


class MemoryBroker:
    def __init__(self) -> None:
        self._queues: defaultdict[str, set[asyncio.Queue[str]]] = defaultdict(set)

    async def publish(self, channel: str, message: str) -> None:
        self.deliver(channel, message)

    def deliver(self, channel: str, message: str) -> None:
        """Into every subscriber's queue, now (for a broker that heard it from another process)."""
        for queue in tuple(self._queues.get(channel, ())):
            offer(queue, message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[str]]:
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
        self._queues[channel].add(queue)
        try:
            yield drain(queue)
        finally:
            self._queues[channel].discard(queue)
            if not self._queues[channel]:
                del self._queues[channel]

    def channels(self) -> list[str]:
        """The channels someone subscribes to now."""
        return list(self._queues)

    def subscriber_count(self, channel: str) -> int:
        return len(self._queues.get(channel, ()))

    async def ready(self) -> bool:
        return True  # nothing to reach: the process itself

    async def close(self) -> None:
        self._queues.clear()


def offer(queue: asyncio.Queue[str], message: str) -> None:
    if queue.full():
        queue.get_nowait()  # drop the oldest: the subscriber re-reads from the store anyway
    queue.put_nowait(message)


async def drain(queue: asyncio.Queue[str]) -> AsyncIterator[str]:
    while True:
        yield await queue.get()
