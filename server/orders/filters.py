"""What a search asks for: Dojo's SearchOrders uses the dine-in filters and payableOnly, GraphQL's
`orders` all of them (the statements are server/orders/search.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from server.clock import utc_or_invalid
from server.lifecycle import OrderStatus
from server.orders.model import OrderType


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """What a search asks for; Dojo's SearchOrders uses the first five, GraphQL all of them."""

    table_id: str | None = None
    waiter_id: str | None = None
    party_id: str | None = None
    reservation_id: str | None = None
    payable_only: bool = False
    statuses: tuple[OrderStatus, ...] = ()
    order_type: OrderType | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        for name, field in (("created_after", "createdAfter"), ("created_before", "createdBefore")):
            if (moment := getattr(self, name)) is not None:
                object.__setattr__(self, name, utc_or_invalid(moment, field=field))
