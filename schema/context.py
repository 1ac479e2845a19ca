"""What every resolver gets: the services, who is asking, and per-request loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

from server.actors import Actor
from server.changes.model import HistoryEntry
from server.errors import Unauthorized
from server.services import Services


@dataclass
class Context:
    services: Services
    actor: Actor | None = None  # None until a WebSocket's connection_init carries the token
    over_socket: bool = True  # False for a plain HTTP request, where subscriptions are refused
    connection_params: dict[str, Any] = field(default_factory=dict)
    histories: DataLoader[str, list[HistoryEntry]] = field(init=False)

    def __post_init__(self) -> None:
        self.histories = DataLoader(load_fn=self._load_histories)

    async def _load_histories(self, order_ids: list[str]) -> list[list[HistoryEntry]]:
        found = await self.services.orders.histories(order_ids)
        return [found[order_id] for order_id in order_ids]

    @property
    def staff(self) -> Actor:
        """The caller; the door and schema/access.py refuse anyone without a valid token before a
        resolver runs, and this refuses once more rather than act for nobody."""
        if self.actor is None:
            raise Unauthorized("a valid staff bearer token is required")
        return self.actor


Info = strawberry.Info[Context, None]
