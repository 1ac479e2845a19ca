"""The one WebSocket to Dojo, as data: the states it goes through and what is known of it
(server/dojo/link.py keeps it in the store; server/dojo/socket.py lives it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class LinkState(StrEnum):
    OFF = "off"  # no ORDERPASS_DOJO_WS_URL: Dojo calls over REST only
    STANDBY = "standby"  # another process holds the socket
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"  # lost; trying again, with backoff
    REFUSED = "refused"  # Dojo refused our key at the handshake: backing off to the cap


@dataclass(frozen=True, slots=True)
class LinkStatus:
    state: LinkState
    holder: str | None = None
    connected_since: datetime | None = None
    last_error: str | None = None
    calls_served: int = 0
    updated_at: datetime | None = None


def describe_link(status: LinkStatus, now: datetime) -> str:
    """The socket in a line, for `orderpass dojo status`."""
    line = f"WebSocket to Dojo: {status.state.value}"
    if status.connected_since is not None:
        line += f" for {int((now - status.connected_since).total_seconds())} s"
    if status.holder:
        line += f", held by {status.holder}"
    line += f"; {status.calls_served} calls served"
    return line + (f"; last error: {status.last_error}" if status.last_error else "")
