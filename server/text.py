"""Text from outside. We refuse the NUL character (U+0000) whatever the door: PostgreSQL cannot
store it and no order, note or id needs it, so both stores refuse it alike, and each door says
so clearly. Where a log line or a message quotes such text, it quotes a short, safe part.

And text as a rule should read it: `folded` takes out what makes the same word look different
to a matcher (case, accents, full-width forms, zero-width and soft-hyphen characters), so
full-width "NUT" (U+FF2E...), "n\u200bu\u00adts" and "Nüts" all read as "nut(s)" to the allergen check."""

from __future__ import annotations

import unicodedata
from typing import Any, Final

import orjson

NUL_REFUSED = "text may not contain the NUL character (U+0000)"
SHOWN: Final = 40  # characters of outside text a log line or a message quotes
_ESCAPED = b"\\u0000"  # how JSON (and GraphQL) spell a NUL; a raw NUL byte is not valid JSON


def holds_nul(raw: bytes) -> bool:
    """Whether a JSON body holds a NUL anywhere, in a key or a value. It is walked only when its
    bytes could hold one, so an ordinary request costs one substring search."""
    if _ESCAPED not in raw:
        return False
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False  # not JSON at all: the parser that follows says so
    return has_nul(parsed)


def has_nul(value: Any) -> bool:
    """Whether decoded data (strings, dicts, lists) holds a NUL anywhere."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(item) for item in value)
    return False


def folded(text: str) -> str:
    """For matching, never for showing: NFKC (full-width and compatibility forms), without
    format characters (zero-width, soft hyphen: Unicode category Cf) or accents, case-folded."""
    compatible = unicodedata.normalize("NFKC", text)
    visible = "".join(ch for ch in compatible if unicodedata.category(ch) != "Cf")
    bare = "".join(ch for ch in unicodedata.normalize("NFD", visible) if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", bare).casefold()


def shown(text: str, limit: int = SHOWN) -> str:
    """Outside text as a log line or a message quotes it: in ASCII (no control or right-to-left
    characters to forge or reorder a line) and no longer than `limit` characters of it."""
    if len(text) <= limit:
        return ascii(text)
    return f"{text[:limit]!a}... ({len(text)} characters)"
