"""Publish/subscribe on JSON strings, behind one small interface; the backend is chosen by URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol


class Broker(Protocol):
    async def publish(self, channel: str, message: str) -> None: ...

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[str]]: ...

    async def ready(self) -> bool:
        """Whether this process can announce changes and hear them now (for /readyz)."""
        ...

    async def close(self) -> None: ...


def create_broker(url: str) -> Broker:
    """`memory://` within one process; across processes, `postgresql://...` (LISTEN/NOTIFY) or
    `unix:///a/directory` (datagram sockets there, for the processes of one machine)."""
    scheme = url.split("://", 1)[0].split("+", 1)[0]
    if scheme == "memory":
        from server.broker.memory import MemoryBroker

        return MemoryBroker()
    if scheme in {"postgresql", "postgres"}:
        from server.broker.postgres import PostgresBroker

        return PostgresBroker(url)
    if scheme == "unix" and url.startswith("unix:///"):
        from server.broker.unix import UnixBroker

        return UnixBroker(url.removeprefix("unix://"))
    raise ValueError(f"unsupported broker URL {url!r}: use memory://, postgresql:// or unix:///a/directory")


def crosses_processes(url: str) -> bool:
    return not url.startswith("memory://")
