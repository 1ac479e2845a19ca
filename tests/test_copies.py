"""A process's copy of something small the store holds (server/copies.py), on the in-memory
broker: read once and then served from memory, read again when stale or when another process
announces a change, and never put back to an older value by a read that a change overtook.
The thing copied here is a counter the test owns: what is under test is the copying."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from server.broker.memory import MemoryBroker
from server.copies import Copy
from tests.waiting import until

CHANNEL = "orderpass.test-copy"


class Held:
    """What 'the store' holds, and how often it was read."""

    def __init__(self, value: int = 0) -> None:
        self.value = value
        self.reads = 0
        self.gate: asyncio.Event | None = None  # set: a read waits for it before answering

    async def read(self) -> int:
        self.reads += 1
        found = self.value
        if self.gate is not None:
            await self.gate.wait()
        return found


@pytest.fixture
async def broker() -> AsyncIterator[MemoryBroker]:
    broker = MemoryBroker()
    yield broker
    await broker.close()


async def test_it_is_read_once_and_then_served_from_memory(broker: MemoryBroker):
    held = Held(7)
    copy = Copy(held.read, broker=broker, channel=CHANNEL, fresh_for=3600)
    assert [await copy.get() for _ in range(50)] == [7] * 50
    assert held.reads == 1


async def test_a_stale_copy_is_read_again(broker: MemoryBroker):
    held = Held(1)
    copy = Copy(held.read, broker=broker, channel=CHANNEL, fresh_for=0.5)
    assert await copy.get() == 1
    held.value = 2  # changed where nobody announced it
    assert await copy.get() == 1  # fresh still
    await asyncio.sleep(0.6)
    assert await copy.get() == 2
    assert held.reads == 2


async def test_many_asking_a_stale_copy_at_once_read_it_once(broker: MemoryBroker):
    held = Held(3)
    held.gate = asyncio.Event()
    copy = Copy(held.read, broker=broker, channel=CHANNEL, fresh_for=3600)
    asking = [asyncio.create_task(copy.get()) for _ in range(20)]
    await asyncio.sleep(0.01)
    held.gate.set()
    assert await asyncio.gather(*asking) == [3] * 20
    assert held.reads == 1


async def test_a_change_is_this_processs_copy_at_once_and_reaches_another_through_the_broker(
    broker: MemoryBroker,
):
    held = Held(1)
    here = Copy(held.read, broker=broker, channel=CHANNEL, fresh_for=3600)
    there = Copy(held.read, broker=broker, channel=CHANNEL, fresh_for=3600)  # only the broker can tell it
    await there.start()
    try:
        assert (await here.get(), await there.get()) == (1, 1)
        held.value = 2
        reads = held.reads
        await here.changed(2)  # what the committing transaction read back
        assert await here.get() == 2
        for _ in range(100):
            if await there.get() == 2:
                break
            await asyncio.sleep(0.01)
        assert await there.get() == 2
        assert held.reads == reads + 1  # `there` read it again; `here` took what it was given
    finally:
        await there.stop()


async def test_a_copy_on_another_channel_does_not_hear_the_change(broker: MemoryBroker):
    held = Held(1)
    other = Copy(held.read, broker=broker, channel="orderpass.something-else", fresh_for=3600)
    await other.start()
    try:
        await other.get()
        held.value = 2
        await Copy(held.read, broker=broker, channel=CHANNEL).changed(2)
        await asyncio.sleep(0.05)
        assert await other.get() == 1
    finally:
        await other.stop()


async def test_a_read_overtaken_by_a_change_does_not_put_the_old_value_back(broker: MemoryBroker):
    held = Held(1)
    copy = Copy(held.read, broker=broker, channel=CHANNEL, fresh_for=3600)
    held.gate = asyncio.Event()
    reading = asyncio.create_task(copy.get())  # reads 1, then waits
    await until(lambda: held.reads == 1)
    held.value = 2
    await copy.changed(2)  # committed meanwhile
    held.gate.set()
    assert await reading == 2  # even the caller that asked before the change gets the newest
    assert await copy.get() == 2  # the copy kept the change
    assert held.reads == 1


async def test_watching_yields_the_value_now_and_then_each_change_once(broker: MemoryBroker):
    held = Held(1)
    copy = Copy(held.read, broker=broker, channel=CHANNEL, fresh_for=3600)
    seen: list[int] = []
    async with copy.watching() as values:

        async def watch() -> None:
            async for value in values:
                seen.append(value)

        watcher = asyncio.create_task(watch())
        try:
            await until(lambda: seen == [1])
            await copy.changed(1)  # the same again: nothing new to show
            held.value = 2
            await copy.changed(2)
            await until(lambda: seen == [1, 2])
            held.value = 3
            copy.forget()
            await copy.get()  # someone reads it again: the watcher hears
            await until(lambda: seen == [1, 2, 3])
            await asyncio.sleep(0.05)
        finally:
            watcher.cancel()
    assert seen == [1, 2, 3]


async def test_listening_with_a_look_looks_every_so_often_and_after_each_announcement(broker: MemoryBroker):
    held = Held(1)
    copy = Copy(held.read, broker=broker, channel=CHANNEL, fresh_for=3600)
    looks = 0

    async def look() -> None:
        nonlocal looks
        looks += 1

    ready = asyncio.Event()
    listening = asyncio.create_task(copy.listen(ready, every=0.02, look=look))
    try:
        await ready.wait()
        await until(lambda: looks >= 3)  # with nothing announced
        await copy.get()
        held.value = 2
        await broker.publish(CHANNEL, "{}")  # another process changed it
        for _ in range(500):  # fresh for an hour: only the announcement makes it read again
            if await copy.get() == 2:
                break
            await asyncio.sleep(0.01)
        assert await copy.get() == 2
    finally:
        listening.cancel()


async def test_a_first_read_overtaken_by_word_of_a_change_elsewhere_still_answers(broker: MemoryBroker):
    """Forgotten while its first read ran (another process announced a change): the caller gets
    what the read found, and the next caller reads again."""
    held = Held(1)
    copy = Copy(held.read, broker=broker, channel=CHANNEL, fresh_for=3600)
    held.gate = asyncio.Event()
    reading = asyncio.create_task(copy.get())
    await until(lambda: held.reads == 1)
    copy.forget()
    held.value = 2
    held.gate.set()
    assert await reading == 1
    assert await copy.get() == 2
    assert held.reads == 2
