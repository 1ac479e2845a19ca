"""What every resolver gets: the services, who is asking, and per-request loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

from server.actors import Actor
from server.changes.model import HistoryEntry
from server.errors import Unauthorized
from server.floor.model import Area, Table
from server.orders.model import Order
from server.services import Services


@dataclass
class Context:
    services: Services
    actor: Actor | None = None  # None until a WebSocket's connection_init carries the token
    over_socket: bool = True  # False for a plain HTTP request, where subscriptions are refused
    connection_params: dict[str, Any] = field(default_factory=dict)

    # Loaders are made when a resolver first asks: a kitchen screen's socket holds its context
    # all day and never asks (four eager ones were ~1.5 KB a screen, bench/fanout.py).
    @cached_property
    def histories(self) -> DataLoader[str, list[HistoryEntry]]:
        return DataLoader(load_fn=self._load_histories)

    # The floor, for a page of orders or tables: one read for all of them, whichever field asks.
    @cached_property
    def tables(self) -> DataLoader[str, Table | None]:
        return DataLoader(load_fn=self._load_tables)

    @cached_property
    def areas(self) -> DataLoader[str, Area | None]:
        return DataLoader(load_fn=self._load_areas)

    @cached_property
    def open_orders(self) -> DataLoader[str, list[Order]]:
        return DataLoader(load_fn=self._load_open_orders)

    async def _load_histories(self, order_ids: list[str]) -> list[list[HistoryEntry]]:
        found = await self.services.orders.histories(order_ids)
        return [found[order_id] for order_id in order_ids]

    async def _load_tables(self, table_ids: list[str]) -> list[Table | None]:
        found = await self.services.floor.tables_by_id(table_ids)
        return [found.get(table_id) for table_id in table_ids]

    async def _load_areas(self, area_ids: list[str]) -> list[Area | None]:
        found = {area.id: area for area in await self.services.floor.areas()}  # a venue has a few
        return [found.get(area_id) for area_id in area_ids]

    async def _load_open_orders(self, table_ids: list[str]) -> list[list[Order]]:
        found = await self.services.orders.open_at_tables(table_ids)
        return [found[table_id] for table_id in table_ids]

    @property
    def staff(self) -> Actor:
        """The caller; the door and schema/access.py refuse anyone without a valid token before a
        resolver runs, and this refuses once more rather than act for nobody."""
        if self.actor is None:
            raise Unauthorized("a valid staff bearer token is required")
        return self.actor


Info = strawberry.Info[Context, None]
