"""A process's copy of something small the store holds and every request asks: the pauses
CreateOrder checks each order against (server/ordering), the stations and rules every kitchen
ticket and board is drawn with (server/stations). Reading it per request was a round trip to the
store for what changes a few times a day.

The store stays the truth. Whoever changes the thing calls `changed` after the commit, with what
its own transaction read back: this process's copy takes it at once, and the broker tells every
other process (`channel`), whose `run` forgets its copy so the next `get` reads it again. A copy
older than `fresh_for` seconds is read again too: the backstop for an announcement lost, or for a
broker that does not cross processes (a change made by `orderpass` from a shell, which a lone
server on memory:// does not hear).

A read that started before a change and finishes after it must not put the old value back over
the new one: each read remembers what it found only if nothing changed or was forgotten meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final, Generic, TypeVar, cast

from server.background import Worker
from server.broker import Broker

T = TypeVar("T")
FRESH_FOR: Final = 2.0  # seconds a process trusts its copy without hearing of a change


class Copy(Worker, Generic[T]):
    """As a worker (where nothing else runs `listen`), it forgets the copy on each announcement."""

    def __init__(
        self, read: Callable[[], Awaitable[T]], *, broker: Broker, channel: str, fresh_for: float = FRESH_FOR
    ) -> None:
        """`read`: the thing as the store holds it now."""
        self.name = f"{channel}-copy"
        self.read = read
        self.broker = broker
        self.channel = channel
        self.fresh_for = fresh_for
        self._value: T | None = None
        self._read_at = -math.inf  # time.monotonic() of the copy's last read
        self._generation = 0  # counts changes and forgettings: a read older than one is not kept
        self._handed = 0  # counts changes handed over by `changed`
        self._reading = asyncio.Lock()
        self._watchers: set[asyncio.Event] = set()

    async def get(self) -> T:
        """The copy (read again first, if it is older than `fresh_for` or was forgotten)."""
        if time.monotonic() - self._read_at > self.fresh_for:
            async with self._reading:
                if time.monotonic() - self._read_at > self.fresh_for:  # nobody read it meanwhile
                    return await self.current()
        return cast(T, self._value)  # read at least once by now

    async def current(self) -> T:
        """The thing as the store holds it now, kept as the copy unless it changed meanwhile (then
        the change's own value, where one was handed over while this read ran: it is newer)."""
        generation, handed = self._generation, self._handed
        found = await self.read()
        if generation == self._generation:
            self._remember(found)
        elif handed != self._handed:
            return cast(T, self._value)
        return found

    async def changed(self, found: T) -> None:
        """After a commit, with what the committing transaction read back: this process's copy at
        once, then every other process's."""
        self._generation += 1
        self._handed += 1
        self._remember(found)
        await self.broker.publish(self.channel, '{"changed": true}')

    def forget(self) -> None:
        self._generation += 1
        self._read_at = -math.inf

    def _remember(self, found: T) -> None:
        before, self._value = self._value, found
        self._read_at = time.monotonic()
        if found != before:
            for woken in self._watchers:
                woken.set()

    # -- live ----------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[AsyncIterator[T]]:
        """The thing now (read from the store, so a screen that reconnects is right at once), then
        again each time it changes, in any process (as soon as this process reads the change)."""
        woken = asyncio.Event()
        self._watchers.add(woken)
        try:
            yield self._watch(woken)
        finally:
            self._watchers.discard(woken)

    async def _watch(self, woken: asyncio.Event) -> AsyncIterator[T]:
        found: T = await self.current()
        last: T | None = None
        while True:
            if found != last:
                yield found
                last = found
            await woken.wait()
            woken.clear()
            found = await self.get()

    async def run(self, ready: asyncio.Event) -> None:
        await self.listen(ready)

    async def listen(
        self,
        ready: asyncio.Event,
        *,
        every: float | None = None,
        look: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """A worker's `run`: forget the copy whenever a change is announced, in any process; with
        `every`, call `look` that often too (and after each announcement)."""
        async with self.broker.subscribe(self.channel) as notices:
            ready.set()
            heard: asyncio.Future[str] | None = None
            try:
                while True:
                    heard = heard or asyncio.ensure_future(anext(notices))
                    done, _ = await asyncio.wait({heard}, timeout=every)
                    if done:
                        heard = None
                        heard_of = done.pop()
                        heard_of.result()  # the subscription's end or failure, raised here
                        self.forget()  # changed somewhere: read it again
                    if look is not None:
                        await look()
            finally:
                if heard is not None:
                    heard.cancel()
