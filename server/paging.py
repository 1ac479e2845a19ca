"""Keyset paging: opaque cursors, pages, and the rules for asking for one.

Orders (and the floor's tables) are walked oldest first by (created_at, id), a key that never
changes, so a walk returns every row that matched when it started exactly once, however many
arrive meanwhile. A cursor carries the key and a fingerprint of the filters; it refuses to page
a different search.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Generic, TypeVar

import orjson

from server.clock import as_utc
from server.errors import InvalidRequest

MAX_LIMIT: Final = 100
DEFAULT_LIMIT: Final = 50
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Key:
    created_at: datetime
    id: str


@dataclass(frozen=True, slots=True)
class PageFields:
    """What a door calls a page's size and cursors, so a refusal names what its caller sent."""

    limit: str
    after: str
    before: str
    cursors: str  # named when both cursors are given


# Dojo's SearchOrders `cursor` object, the service's default as it speaks Dojo's contract; and
# the service's own keywords, for a caller with no contract of its own (a kitchen board's limit).
DOJO_CURSOR: Final = PageFields(
    limit="cursor.limit", after="cursor.after", before="cursor.before", cursors="cursor"
)
KEYWORDS: Final = PageFields(limit="limit", after="after", before="before", cursors="before")


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    after: Key | None = None
    before: Key | None = None

    @classmethod
    def parse(
        cls,
        *,
        limit: int | None,
        after: str | None,
        before: str | None,
        scope: str,
        fields: PageFields,
    ) -> PageRequest:
        if after is not None and before is not None:
            raise InvalidRequest(
                f"{fields.cursors}: before and after are mutually exclusive", field=fields.cursors
            )
        limit = DEFAULT_LIMIT if limit is None else limit
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequest(f"{fields.limit}: must be between 1 and {MAX_LIMIT}", field=fields.limit)
        return cls(
            limit,
            decode(after, scope=scope, field=fields.after) if after is not None else None,
            decode(before, scope=scope, field=fields.before) if before is not None else None,
        )


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    cursors: Sequence[str]  # one per item: where a walk that stopped at it resumes
    before: str | None  # a cursor for the page before this one, if there is one
    after: str | None  # a cursor for the page after this one, if there is one


def page_of(
    items: Sequence[T], keys: Sequence[Key], asked: PageRequest, *, more: bool, scope: str
) -> Page[T]:
    """The page a keyset query found (`more`: whether rows lie beyond it in the walk's direction),
    with each item's cursor and the cursors either side where the walk goes on."""
    if not items:
        return Page(items, [], None, None)
    cursors = [encode(key, scope=scope) for key in keys]
    more_before = more if asked.before else asked.after is not None
    more_after = more if not asked.before else True
    return Page(items, cursors, cursors[0] if more_before else None, cursors[-1] if more_after else None)


def scope_of(*filters: object) -> str:
    """A short fingerprint of a search's filters, so a cursor only pages the search it came from."""
    return hashlib.blake2s(orjson.dumps([str(f) for f in filters]), digest_size=6).hexdigest()


def encode(key: Key, *, scope: str) -> str:
    payload = orjson.dumps([key.created_at.isoformat(), key.id, scope])
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode(cursor: str, *, scope: str, field: str) -> Key:
    try:
        created_at, order_id, cursor_scope = orjson.loads(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        )
        key = Key(as_utc(datetime.fromisoformat(created_at)), str(order_id))
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise InvalidRequest(f"{field}: not a cursor this server issued", field=field) from None
    if cursor_scope != scope:
        raise InvalidRequest(f"{field}: this cursor belongs to a different search", field=field)
    return key
