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
