"""Staff bearer tokens: minted once and shown once, stored only as a SHA-256 (they carry 256
random bits, so a fast hash is enough), revoked by name or expiring on their own, and checked
on every request and every operation over a socket.

A revocation is announced on the broker (`CHANNEL`), so every process closes that token's open
sockets at once; where no broker crosses processes (`orderpass token revoke` from a shell, one
server on SQLite and memory://), its sweep of open sockets (server/staff/sessions.py) finds it
within seconds.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import bindparam, select, update

from server.actors import Actor
from server.broker import Broker
from server.clock import Clock
from server.errors import Conflict, InvalidRequest, NotFound
from server.models import STAFF_TOKENS
from server.records import select_all
from server.sql import insert_ignoring
from server.staff.roles import Role
from server.store import Store

PREFIX: Final = "opt_"
CHANNEL: Final = "orderpass.tokens"
MAX_TOKEN_LENGTH: Final = 200  # ours are 47 characters; anything far longer is not worth hashing


@dataclass(frozen=True, slots=True)
class StaffToken:
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None = None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Tokens:
    def __init__(self, *, store: Store, clock: Clock, broker: Broker | None = None) -> None:
        self.store = store
        self.clock = clock
        self.broker = broker

    async def create(self, *, name: str, role: Role, expires_at: datetime | None = None) -> str:
        """Mint a token; the returned text is the only copy there will ever be."""
        if not name.strip():
            raise InvalidRequest("a token needs a name", field="name")
        now = self.clock.now()
        if expires_at is not None and expires_at <= now:
            raise InvalidRequest("a token must expire in the future", field="expires_at")
        token = PREFIX + secrets.token_urlsafe(32)
        row = {
            "name": name,
            "role": role.value,
            "token_hash": digest(token),
            "created_at": now,
            "expires_at": expires_at,
        }
        async with self.store.write() as tx:
            inserted = await tx.execute(insert_ignoring(tx, STAFF_TOKENS).returning(STAFF_TOKENS.c.id), [row])
            if inserted.first() is None:
                raise Conflict(f"an active token is already named {name!r}; revoke it first")
        return token

    async def list(self) -> list[StaffToken]:
        columns = STAFF_TOKENS.c
        async with self.store.read() as tx:
            rows = await tx.execute(select(STAFF_TOKENS).order_by(columns.created_at, columns.id))
            return [StaffToken(r.name, Role(r.role), r.created_at, r.revoked_at, r.expires_at) for r in rows]

    async def revoke(self, name: str) -> None:
        active = (STAFF_TOKENS.c.name == name) & STAFF_TOKENS.c.revoked_at.is_(None)
        async with self.store.write() as tx:
            result = await tx.execute(update(STAFF_TOKENS).where(active).values(revoked_at=self.clock.now()))
            if not result.rowcount:
                raise NotFound(f"no active token named {name!r}")
        if self.broker is not None:
            await self.broker.publish(CHANNEL, "revoked")  # no name, no hash: each process re-checks

    async def authenticate(self, token: str | None) -> Actor | None:
        """The staff actor a presented token stands for, or None (unknown, revoked, expired)."""
        if not token or not token.startswith(PREFIX) or len(token) > MAX_TOKEN_LENGTH:
            return None
        asked = {"hash": digest(token), "now": self.clock.now()}
        async with self.store.read() as tx:
            found = await select_all(tx, _HOLDER, asked)
        return Actor.staff(found[0].name, Role(found[0].role)) if found else None

    async def holding(self, digests: Collection[str]) -> set[str]:
        """Which of these token digests still authenticate: neither revoked nor expired."""
        if not digests:
            return set()
        query = select(STAFF_TOKENS.c.token_hash).where(STAFF_TOKENS.c.token_hash.in_(list(digests)), _HOLDS)
        async with self.store.read() as tx:
            return set((await tx.execute(query, {"now": self.clock.now()})).scalars())


# Neither revoked nor expired by `now`; and who holds a token, built once: every staff request
# and every screen's fragment asks it, and building the statement (and its cache key) cost more
# than running it (bench/reads.py).
_EXPIRES: Final = STAFF_TOKENS.c.expires_at
_NOW: Final = bindparam("now", type_=_EXPIRES.type)
_HOLDS: Final = STAFF_TOKENS.c.revoked_at.is_(None) & (_EXPIRES.is_(None) | (_EXPIRES > _NOW))
_HOLDER: Final = select(STAFF_TOKENS.c.name, STAFF_TOKENS.c.role).where(
    STAFF_TOKENS.c.token_hash == bindparam("hash"), _HOLDS
)


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    scheme, _, token = (header or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
