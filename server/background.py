"""Work that runs beside the app for as long as it does: the live feed's reader, the sweep of
open sockets, the Dojo outbox and payment resolver, SQLite's checkpoints. Each is a `Worker`
with one `run`; starting and stopping are written once, here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

log = logging.getLogger("orderpass.worker")
RESTART_SECONDS: Final = (1.0, 30.0)  # the first wait before running a failed worker again, the longest


class Worker:
    """`start` returns once `run` says it is ready (a subscription taken, say), or raises what
    stopped it first; `stop` cancels it and waits for it to finish. A `run` that fails after it
    was ready is logged at once and run again, after a wait that doubles: a worker that died
    silently left every kitchen screen without its live feed until the process stopped."""

    name: str = "orderpass-worker"  # its task's, and its log lines'
    _task: asyncio.Task[None] | None = None

    async def run(self, ready: asyncio.Event) -> None:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        ready = asyncio.Event()
        self._task = asyncio.create_task(self._kept_running(ready), name=self.name)
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

    async def _kept_running(self, ready: asyncio.Event) -> None:
        wait, longest = RESTART_SECONDS
        while True:
            try:
                await self.run(ready)
                return  # a run that ends of itself ends the worker
            except Exception:
                if not ready.is_set():
                    raise  # it never started: start() raises this
                log.exception("%s failed; running it again in %.0f s", self.name, wait)
            await asyncio.sleep(wait)
            wait = min(wait * 2, longest)
