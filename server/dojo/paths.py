"""Paths on Dojo's API that carry an id, such as `/payment-intents/{id}`.

The id comes from outside: a Dojo event, a payment recorded by a caller. Built into a path
unchecked, `..` made the client call `GET /` with our API key (the HTTP client resolves dot
segments), and `a/b` or `?x` would reach another resource or query. So an id must look like one
Dojo issues (`pi_sandbox_RBMHTJ4fIkmSppDILZVCGw`): ASCII letters, digits, `_` and `-`, at most
100 characters (the longest `maxLength` Dojo's API gives an id in a path; it gives payment
intents none). Anything else is refused before a request is made, and each segment is
percent-encoded all the same.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import quote

from server.errors import InvalidRequest
from server.text import shown

MAX_ID_LENGTH: Final = 100
_SAFE_ID: Final = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_ID_LENGTH}}}")


class UnsafeId(InvalidRequest):
    """An id Dojo could not have issued; nothing was sent to Dojo."""


def resource(collection: str, resource_id: str) -> str:
    """`/{collection}/{id}`, for an id Dojo could have issued; UnsafeId for any other."""
    if not _SAFE_ID.fullmatch(resource_id):
        raise UnsafeId(
            f"{shown(resource_id)} is not an id Dojo issues (ASCII letters, digits, _ and -, "
            f"at most {MAX_ID_LENGTH}); nothing was sent to Dojo"
        )
    return f"/{collection}/{quote(resource_id, safe='')}"
