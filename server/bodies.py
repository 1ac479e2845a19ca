"""A request's body, read straight from ASGI's `receive` and bounded before anything parses it:
what Dojo's REST door (server/dojo/rest.py) and the GraphQL door (schema/view.py) both read."""

from __future__ import annotations

from starlette.requests import ClientDisconnect
from starlette.types import Receive

from server.errors import PayloadTooLarge


async def read_body(receive: Receive, *, limit: int, declared: str | None) -> bytes:
    """The whole body. PayloadTooLarge once it is over `limit`, by the length the request
    declares before a byte is read, or by what arrives (what was sent is not kept);
    ClientDisconnect if the client went away first."""
    # ASCII digits only: str.isdigit() is true of superscripts, which latin-1 holds and int() refuses
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes is over the {limit}-byte limit")
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is over the {limit}-byte limit")
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)
