"""Long loops that let the event loop in: turning a thousand orders into rows or GraphQL in one
go held every other request, a Dojo call among them, for up to a second (bench/stall.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Final, TypeVar

T = TypeVar("T")
CHUNK: Final = 20  # about 10 ms of rendering orders for GraphQL on a slow core


async def paced(items: Iterable[T], *, chunk: int = CHUNK) -> AsyncIterator[T]:
    """Each item in turn, giving the loop a turn after every `chunk` of them (the iterable is
    pulled lazily, so the work that makes each item is paced too)."""
    for n, item in enumerate(items, start=1):
        yield item
        if n % chunk == 0:
            await asyncio.sleep(0)
