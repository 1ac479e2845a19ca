"""Across the processes of one machine, with no server to run: each process binds a datagram
socket in one directory, and a message goes to every socket there. For several workers on one
SQLite file (`serve --workers N`), which have no PostgreSQL to LISTEN on.

Behind the same interface as MemoryBroker and PostgresBroker. As with NOTIFY, messages are
small (at most `MAX_MESSAGE` bytes) and only wake subscribers, who read what changed from the
store and poll it besides: a process with no room left for a message misses it (the sender
never waits), which delays a screen by one poll at worst. The directory is this user's alone
(0700, refused otherwise), so no other user of the machine can wake, or feed, orderpass. The
socket of a process that died is removed by the first publish that finds nobody behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import stat
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Final

from server.broker.memory import MemoryBroker

log = logging.getLogger("orderpass.broker")
MAX_MESSAGE: Final = 8000  # NOTIFY's limit, which every message orderpass sends already keeps to
MAX_PATH: Final = 107  # a socket's path, in bytes (sun_path)


class UnixBroker:
    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)
        self._name = f"{os.getpid()}.{secrets.token_hex(3)}"
        if len(os.fsencode(self.directory / self._name)) > MAX_PATH:
            raise ValueError(
                f"the broker's directory {directory!r} is too long a path for its sockets "
                f"({MAX_PATH} bytes): set ORDERPASS_BROKER_URL=unix:///a/shorter/directory"
            )
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        found = self.directory.stat()
        if found.st_uid != os.geteuid() or stat.S_IMODE(found.st_mode) & 0o077:
            raise ValueError(
                f"the broker's directory {directory!r} must belong to this user alone (chmod 700): "
                "anyone who can write there could wake or feed orderpass"
            )
        self._here = MemoryBroker()  # this process's subscribers
        self._socket: socket.socket | None = None
        self.dropped = 0  # messages a busy peer had no room for

    async def publish(self, channel: str, message: str) -> None:
        data = f"{channel}\n{message}".encode()
        if len(data) > MAX_MESSAGE:
            log.warning("not announcing %d bytes on %s: over %d", len(data), channel, MAX_MESSAGE)
            return
        self._here.deliver(channel, message)  # this process's own subscribers, at once
        try:
            sock, peers = self._bound(), self._peers()
        except OSError as exc:  # the directory gone, say: subscribers poll the store meanwhile
            log.warning("could not announce on %s: %s", channel, exc)
            return
        for peer in peers:
            try:
                sock.sendto(data, peer)
            except (ConnectionRefusedError, FileNotFoundError):  # its process is gone
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(peer)
            except BlockingIOError:  # its queue is full: it catches up from the store
                self.dropped += 1
            except OSError as exc:
                log.warning("could not announce on %s to %s: %s", channel, os.path.basename(peer), exc)

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[str]]:
        try:
            self._bound()  # from now on, what other processes announce reaches this one
        except OSError as exc:  # it hears this process alone, and polls the store; /readyz says so
            log.warning("cannot hear other processes on %s: %s", channel, exc)
        return self._here.subscribe(channel)

    async def ready(self) -> bool:
        """This process's socket is bound and still in the directory, where the others find it."""
        try:
            self._bound()
        except OSError:
            return False
        return (self.directory / self._name).exists()

    async def close(self) -> None:
        if self._socket is not None:
            asyncio.get_running_loop().remove_reader(self._socket.fileno())
            self._socket.close()
            self._socket = None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.directory / self._name)
        await self._here.close()

    def _bound(self) -> socket.socket:
        """This process's socket in the directory, bound at the first use (on the running loop)."""
        if self._socket is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                sock.setblocking(False)
                sock.bind(str(self.directory / self._name))
                asyncio.get_running_loop().add_reader(sock.fileno(), self._receive)
            except BaseException:
                sock.close()
                raise
            self._socket = sock
        return self._socket

    def _peers(self) -> list[str]:
        with os.scandir(self.directory) as entries:
            return [entry.path for entry in entries if entry.name != self._name]

    def _receive(self) -> None:
        assert self._socket is not None
        while True:
            try:
                data = self._socket.recv(MAX_MESSAGE)
            except (BlockingIOError, InterruptedError):
                return
            channel, _, message = data.decode(errors="replace").partition("\n")
            self._here.deliver(channel, message)
