"""What a socket is sent, made cheaply for a thousand kitchen screens (bench/fanout.py).

**A result encoded once, not once per screen.** Every screen of one subscription shape is
handed the same result (schema/execution.py); only its subscription's id differs. A `next`
message carrying nothing but `data` is written as that payload's JSON, encoded once per result,
with the id spliced in: the very text orjson makes of the whole message. The payloads of the
last few results are kept by the result's identity (each held, so its id cannot be reused while
it is kept); a result is never changed once executed. Only small ones are kept: a change is a
ticket's worth, and sixty-four whole boards (a query sent over the socket) would be ~100 MB.

**One watchdog per socket, not a timer per send.** A screen that stops reading fills its socket,
and a send to it waits for room. A send that has waited `seconds` is cut off, as `asyncio.timeout`
did, but one timer watches all of a socket's sends: armed by the first send, it checks when the
oldest could be due and rests once nothing is being sent (a timer per send was ~9% of fan-out).
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import orjson

_NEXT: Final = ("id", "type", "payload")


class Frames:
    """The text of each message; `next` frames from payloads encoded once per result."""

    def __init__(self, *, kept: int = 64, largest: int = 64 * 1024) -> None:
        self.kept = kept
        self.largest = largest  # a larger payload (a whole board asked over the socket) is not kept
        self._payloads: dict[int, tuple[object, str]] = {}

    def encode(self, message: Any) -> str:
        payload = message.get("payload") if type(message) is dict else None
        if type(payload) is dict and len(payload) == 1 and "data" in payload and tuple(message) == _NEXT:
            identifier = message["id"]
            if type(identifier) is str and message["type"] == "next":
                spliced = orjson.dumps(identifier).decode()
                return f'{{"id":{spliced},"type":"next","payload":{self._payload(payload["data"])}}}'
        return orjson.dumps(message).decode()

    def _payload(self, data: object) -> str:
        found = self._payloads.get(id(data))
        if found is not None and found[0] is data:
            return found[1]
        text = orjson.dumps({"data": data}).decode()
        if len(text) > self.largest:
            return text
        if len(self._payloads) >= self.kept:
            del self._payloads[next(iter(self._payloads))]  # the oldest
        self._payloads[id(data)] = (data, text)
        return text


class Watchdog:
    """Cuts off any send of one socket that has waited `seconds`: its task is cancelled, and
    `ended` says so, as leaving `asyncio.timeout` raises TimeoutError."""

    __slots__ = ("_cut", "_sending", "_timer", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._sending: dict[asyncio.Task[Any], tuple[float, int]] = {}  # began, cancellations before
        self._cut: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None

    def began(self) -> asyncio.Task[Any]:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        self._sending[task] = (loop.time(), task.cancelling())
        if self._timer is None:
            self._timer = loop.call_at(loop.time() + self.seconds, self._check)
        return task

    def ended(self, task: asyncio.Task[Any], *, cancelled: bool = False) -> bool:
        """Whether this send was cut off (`cancelled`: it raised CancelledError, then ours to take
        back unless someone else cancelled the task meanwhile). Once a send has ended, again: False."""
        entry = self._sending.pop(task, None)
        if entry is None or task not in self._cut:
            return False
        self._cut.discard(task)
        return task.uncancel() <= entry[1] and cancelled

    def _check(self) -> None:
        loop = asyncio.get_running_loop()
        now, due = loop.time(), None
        for task, (began, _) in self._sending.items():
            if now - began >= self.seconds:
                if task not in self._cut:
                    self._cut.add(task)
                    task.cancel()
            elif due is None or began < due:
                due = began
        self._timer = None if due is None else loop.call_at(due + self.seconds, self._check)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
