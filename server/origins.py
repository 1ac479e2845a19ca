"""Keeping a browser on our own site: where pairing may send it, and whether a request that
changes something came from one of our own pages (the kitchen display's door asks both)."""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote, urlsplit

from starlette.requests import HTTPConnection

HOME: Final = "/kds"
SCREENS: Final = re.compile(r"/kds(?:[/?]|$)")  # our own screens: /kds, /kds?station=grill, /kds/ready
DEFAULT_PORTS: Final = {"http": 80, "https": 443}
SOCKET_SCHEMES: Final = {"ws": "http", "wss": "https"}
# A proxy or a browser may decode a destination once more than we did; this many times is plenty.
DECODINGS: Final = 3


def local_destination(raw: str | None) -> str:
    """`raw` when it is one of our own screens, addressed relative to this site; else /kds.
    Browsers read `\\` as `/` and drop tabs and newlines, and a proxy may decode `%2F` or `%5C`
    again, so a destination must stay on our screens however many times it is read."""
    if not raw:
        return HOME
    readings = [raw]
    for _ in range(DECODINGS):
        readings.append(unquote(readings[-1]))
    return raw if all(_on_our_screens(reading) for reading in readings) else HOME


def _on_our_screens(destination: str) -> bool:
    if any(ord(c) <= 0x20 or ord(c) == 0x7F or c == "\\" for c in destination):
        return False
    if not SCREENS.match(destination):
        return False
    parts = urlsplit(destination)
    segments = parts.path.split("/")
    return not parts.scheme and not parts.netloc and "." not in segments and ".." not in segments


def same_origin(request: HTTPConnection) -> bool:
    """Whether a request came from one of our own pages: its Origin (a browser sends one with
    every form it posts), or, without one, its Referer, names this site as the request reached it
    (the scheme as a trusted proxy says). Neither, or `Origin: null`, is no proof: refused."""
    origin = request.headers.get("origin")
    source = origin if origin is not None else request.headers.get("referer")
    found = _origin_of(source) if source is not None else None
    return found is not None and found == own_origin(request)


def own_origin(request: HTTPConnection) -> tuple[str, str, int] | None:
    """This site's origin as the request reached it (a WebSocket's ws/wss read as http/https)."""
    url = request.url
    return _origin_of(str(url.replace(scheme=SOCKET_SCHEMES.get(url.scheme, url.scheme))))


def navigated_from_elsewhere(request: HTTPConnection) -> bool:
    """A browser followed a link on another site (or a sibling one) to get here. Typed, scanned
    and bookmarked addresses say `none`; clients that are not browsers say nothing."""
    return request.headers.get("sec-fetch-site") in {"cross-site", "same-site"}


def _origin_of(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]
