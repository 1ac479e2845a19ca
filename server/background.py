"""Work that runs beside the app for as long as it does: the live feed's reader, the sweep of
open sockets, the Dojo outbox and payment resolver, SQLite's checkpoints. Each is a `Worker`
with one `run`; starting and stopping are written once, here."""

from __future__ import annotations

import asyncio
import contextlib
from typing import ClassVar


class Worker:
    """`start` returns once `run` says it is ready (a subscription taken, say), or raises what
    stopped it first; `stop` cancels it and waits for it to finish."""

    name: ClassVar[str] = "orderpass-worker"
    _task: asyncio.Task[None] | None = None

    async def run(self, ready: asyncio.Event) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        ready = asyncio.Event()
        self._task = asyncio.create_task(self.run(ready), name=self.name)
        waiting = asyncio.ensure_future(ready.wait())
        await asyncio.wait({self._task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.is_set():
            waiting.cancel()
            await self._task  # it ended before it was ready: its error, here

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
