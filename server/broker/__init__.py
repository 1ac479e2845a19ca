"""Publish/subscribe on JSON strings, behind one small interface; the backend is chosen by URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol


class Broker(Protocol):
    async def publish(self, channel: str, message: str) -> None: ...

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[str]]: ...

    async def close(self) -> None: ...


def create_broker(url: str) -> Broker:
    if url.startswith("memory://"):
        from server.broker.memory import MemoryBroker

        return MemoryBroker()
    raise ValueError(f"unsupported broker URL {url!r}; use memory://")
