"""Open sockets, by the staff token that opened them; a socket whose token stops holding
(revoked, expired) is closed within seconds, in every process.

Each process sweeps its own open sockets: on a revocation notice from the broker at once, and
every `every` seconds regardless (a revocation from a shell reaches a lone server on memory://
through no broker, and an expiry announces itself to nobody). A sweep is one indexed query for
the digests in use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from server.background import Worker
from server.broker import Broker
from server.errors import Unavailable
from server.staff.tokens import CHANNEL, Tokens, digest

log = logging.getLogger("orderpass.sessions")


@dataclass(eq=False, slots=True)
class Session:
    token_digest: str
    close: Callable[[], Awaitable[None]]  # closes the socket as unauthorized (4401)


class Sessions(Worker):
    name = "orderpass-sessions"

    def __init__(self, *, tokens: Tokens, broker: Broker, every: float) -> None:
        self.tokens = tokens
        self.broker = broker
        self.every = every
        self._open: set[Session] = set()

    def open(self, token: str, close: Callable[[], Awaitable[None]]) -> Session:
        session = Session(digest(token), close)
        self._open.add(session)
        return session

    def end(self, session: Session) -> None:
        self._open.discard(session)

    @property
    def count(self) -> int:
        return len(self._open)

    async def sweep(self) -> int:
        """Close every open socket whose token no longer holds; how many were closed."""
        sessions = tuple(self._open)
        if not sessions:
            return 0
        holding = await self.tokens.holding({session.token_digest for session in sessions})
        ended = [session for session in sessions if session.token_digest not in holding]
        for session in ended:
            self.end(session)
            with contextlib.suppress(Exception):  # a socket already gone has nothing to close
                await session.close()
        if ended:
            log.warning("closed %d socket(s) whose staff token was revoked or expired", len(ended))
        return len(ended)

    async def run(self, ready: asyncio.Event) -> None:
        async with self.broker.subscribe(CHANNEL) as notices:
            ready.set()
            woken: asyncio.Future[str] | None = None
            try:
                while True:
                    woken = woken or asyncio.ensure_future(anext(notices))
                    done, _ = await asyncio.wait({woken}, timeout=self.every)
                    woken = None if done else woken
                    await self._sweep_safely()
            finally:
                if woken is not None:
                    woken.cancel()

    async def _sweep_safely(self) -> None:
        try:
            await self.sweep()
        except Unavailable as exc:  # the store is away: the next sweep tries again
            log.warning("could not re-check open sockets' tokens: %s", exc.message)
        except Exception:
            log.exception("re-checking open sockets' tokens failed")
