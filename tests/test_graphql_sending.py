"""What a socket is sent (schema/sending.py): a result's frames spliced from one encoding, and one
watchdog per socket cutting off a send that waits too long."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import orjson
import pytest

from schema.sending import Frames, Watchdog

RESULT = {
    "orderChanges": {"sequence": 7, "kind": "CREATED", "order": {"id": "o-1", "note": 'é "x" \\ \u2028'}}
}


@pytest.mark.parametrize("identifier", ["1", "screen-42", 'a "quoted" \\ id', "écran\u2028", "\x01"])
def test_a_next_frame_is_the_text_orjson_makes_of_the_whole_message(identifier: str):
    frames = Frames()
    for _ in range(2):  # encoded, then spliced from what was kept
        message = {"id": identifier, "type": "next", "payload": {"data": RESULT}}
        assert frames.encode(message) == orjson.dumps(message).decode()


def test_screens_sent_one_result_each_get_their_own_id():
    frames = Frames()
    sent = [
        orjson.loads(frames.encode({"id": op, "type": "next", "payload": {"data": RESULT}})) for op in "ab"
    ]
    assert [frame["id"] for frame in sent] == ["a", "b"]
    assert sent[0]["payload"] == sent[1]["payload"] == {"data": RESULT}


def test_results_are_told_apart_by_identity_however_many_come():
    frames = Frames(kept=2)
    results = [{"orderChanges": {"sequence": n}} for n in range(5)]
    for _ in range(2):
        for result in results:
            message = {"id": "1", "type": "next", "payload": {"data": result}}
            assert orjson.loads(frames.encode(message))["payload"]["data"] == result


class _Result(dict[str, Any]):
    """A result that can be watched for being let go (orjson encodes it as the dict it is)."""


def test_a_large_result_is_not_kept_once_sent():
    frames = Frames(largest=100)
    large, small = _Result(orderChanges="x" * 200), _Result(orderChanges="x")
    watched = [weakref.ref(large), weakref.ref(small)]
    for data in (large, small):
        message = {"id": "1", "type": "next", "payload": {"data": data}}
        assert frames.encode(message) == orjson.dumps(message).decode()
    del large, small, data, message
    assert [ref() is None for ref in watched] == [True, False]  # the small one is kept, to splice again


@pytest.mark.parametrize(
    "message",
    [
        {"id": "1", "type": "next", "payload": {"data": RESULT, "errors": [{"message": "no"}]}},
        {"id": "1", "type": "next", "payload": {"data": None, "extensions": {"cost": 3}}},
        {"type": "next", "id": "1", "payload": {"data": RESULT}},  # another order of keys
        {"id": "1", "type": "error", "payload": [{"message": "no"}]},
        {"type": "ping"},
        {"type": "connection_ack", "payload": {"data": 1}},
    ],
)
def test_any_other_message_is_encoded_whole(message: dict[str, Any]):
    assert Frames().encode(message) == orjson.dumps(message).decode()


async def test_a_send_that_waits_too_long_is_cut_off():
    watchdog, never = Watchdog(0.05), asyncio.Event()

    async def send() -> bool:
        task = watchdog.began()
        try:
            await never.wait()
        except asyncio.CancelledError:
            return watchdog.ended(task, cancelled=True)
        return False

    assert await asyncio.wait_for(send(), 5) is True


async def test_each_send_is_timed_from_its_own_start_and_quick_ones_are_left_alone():
    watchdog, never = Watchdog(0.2), asyncio.Event()
    cut: list[str] = []

    async def send(name: str, wait: asyncio.Event | None) -> None:
        task = watchdog.began()
        try:
            if wait is not None:
                await wait.wait()
            else:
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            if watchdog.ended(task, cancelled=True):
                cut.append(name)
                return
            raise
        finally:
            watchdog.ended(task)

    first = asyncio.create_task(send("first", never))
    await asyncio.sleep(0.1)
    late = asyncio.create_task(send("late", never))
    for _ in range(20):
        await send("quick", None)
    await asyncio.wait_for(first, 5)
    assert cut == ["first"]  # the late one has had only half its time
    await asyncio.wait_for(late, 5)
    assert cut == ["first", "late"]
    watchdog.stop()


def _stalled_send(watchdog: Watchdog, told: list[bool], *, cancel_again: bool = False) -> asyncio.Task[None]:
    """A send that never gets room; `told`, whether the watchdog says it cut it off. With
    `cancel_again`, the screen unsubscribes just as the watchdog cuts its send off."""

    async def send() -> None:
        task = watchdog.began()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            if cancel_again:
                task.cancel()
            told.append(watchdog.ended(task, cancelled=True))
            raise

    return asyncio.create_task(send())


async def test_a_send_cancelled_by_someone_else_stays_cancelled():
    watchdog, told = Watchdog(0.05), list[bool]()
    task = _stalled_send(watchdog, told)
    await asyncio.sleep(0)
    task.cancel()  # a screen that unsubscribes, before the watchdog is due
    with pytest.raises(asyncio.CancelledError):
        await task
    assert told == [False]
    await asyncio.sleep(0.1)  # the watchdog comes due over nothing
    watchdog.stop()


async def test_a_cancellation_that_comes_on_top_of_the_cut_off_is_kept():
    watchdog, told = Watchdog(0.05), list[bool]()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(_stalled_send(watchdog, told, cancel_again=True), 5)
    assert told == [False]
