"""Waiting in a test for what it expects, instead of sleeping a guessed while."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def until(check: Callable[[], Any | Awaitable[Any]], seconds: float = 10, every: float = 0.02) -> None:
    """Return once `check()` (plain or async) is true; fail if it is still false after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        held = check()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        if time.monotonic() > deadline:
            raise AssertionError("the condition never held")
        await asyncio.sleep(every)
