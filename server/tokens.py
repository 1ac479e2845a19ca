"""Staff bearer tokens: minted once and shown once, stored only as a SHA-256 (they carry 256
random bits, so a fast hash is enough), revoked by name, and checked on every request."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from server.actors import Actor
from server.clock import Clock
from server.errors import Conflict, InvalidRequest, NotFound
from server.models import STAFF_TOKENS
from server.queries import insert_ignoring
from server.roles import Role
from server.store import Store

PREFIX = "opt_"


@dataclass(frozen=True, slots=True)
class StaffToken:
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Tokens:
    def __init__(self, *, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def create(self, *, name: str, role: Role) -> str:
        """Mint a token; the returned text is the only copy there will ever be."""
        if not name.strip():
            raise InvalidRequest("a token needs a name", field="name")
        token = PREFIX + secrets.token_urlsafe(32)
        row = {"name": name, "role": role.value, "token_hash": digest(token), "created_at": self.clock.now()}
        async with self.store.write() as tx:
            inserted = await tx.execute(insert_ignoring(tx, STAFF_TOKENS).returning(STAFF_TOKENS.c.id), [row])
            if inserted.first() is None:
                raise Conflict(f"an active token is already named {name!r}; revoke it first")
        return token

    async def list(self) -> list[StaffToken]:
        async with self.store.read() as tx:
            rows = await tx.execute(
                select(STAFF_TOKENS).order_by(STAFF_TOKENS.c.created_at, STAFF_TOKENS.c.id)
            )
            return [StaffToken(r.name, Role(r.role), r.created_at, r.revoked_at) for r in rows]

    async def revoke(self, name: str) -> None:
        active = (STAFF_TOKENS.c.name == name) & STAFF_TOKENS.c.revoked_at.is_(None)
        async with self.store.write() as tx:
            result = await tx.execute(update(STAFF_TOKENS).where(active).values(revoked_at=self.clock.now()))
            if not result.rowcount:
                raise NotFound(f"no active token named {name!r}")

    async def authenticate(self, token: str | None) -> Actor | None:
        """The staff actor a presented token stands for, or None."""
        if not token or not token.startswith(PREFIX):
            return None
        query = select(STAFF_TOKENS.c.name, STAFF_TOKENS.c.role).where(
            STAFF_TOKENS.c.token_hash == digest(token), STAFF_TOKENS.c.revoked_at.is_(None)
        )
        async with self.store.read() as tx:
            row = (await tx.execute(query)).first()
        return Actor.staff(row.name, Role(row.role)) if row else None


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    scheme, _, token = (header or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
