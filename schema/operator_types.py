"""What an operator watches over GraphQL: payments no order holds, POS events owed to Dojo,
and the kitchen's speed."""

from __future__ import annotations

from datetime import datetime

import strawberry

from server.lifecycle import OrderStatus
from server.orders.stats import KitchenStats, StationTiming, StatusTiming
from server.payments.model import PaymentStatus, UnmatchedPayment


@strawberry.type(name="UnmatchedPayment")
class UnmatchedPaymentNode:
    payment_intent_id: str
    status: PaymentStatus
    status_at: datetime
    first_seen_at: datetime
    events: int
    lookups: int = strawberry.field(description="Times Dojo's payment-intent API was asked, in vain.")
    last_error: str | None
    next_lookup_at: datetime | None


@strawberry.type(name="DojoOutbox", description="POS events owed to Dojo and not yet delivered.")
class DojoOutboxNode:
    owed: int
    failing: int
    oldest_undelivered_at: datetime | None


@strawberry.type
class StatusCount:
    status: OrderStatus
    orders: int


@strawberry.type
class StatusTime:
    status: OrderStatus
    samples: int
    median_seconds: float
    p90_seconds: float


@strawberry.type(description="A prep station's speed: from an item arriving there to its bump.")
class StationTime:
    station: str
    waiting: int = strawberry.field(description="Items still to make there, on open orders.")
    samples: int = strawberry.field(description="Items it bumped since `since`.")
    median_seconds: float | None
    p90_seconds: float | None


@strawberry.type(name="KitchenStats")
class KitchenStatsNode:
    since: datetime
    orders_by_status: list[StatusCount]
    time_in_status: list[StatusTime]
    by_station: list[StationTime]


# -- from the domain ----------------------------------------------------------------------------


def unmatched(found: UnmatchedPayment) -> UnmatchedPaymentNode:
    return UnmatchedPaymentNode(**{name: getattr(found, name) for name in UnmatchedPayment.__slots__})


def stats(found: KitchenStats) -> KitchenStatsNode:
    def timing(t: StatusTiming) -> StatusTime:
        return StatusTime(
            status=t.status, samples=t.samples, median_seconds=t.median_seconds, p90_seconds=t.p90_seconds
        )

    return KitchenStatsNode(
        since=found.since,
        orders_by_status=[StatusCount(status=s, orders=n) for s, n in found.orders_by_status.items()],
        time_in_status=[timing(t) for t in found.timings],
        by_station=[
            StationTime(**{name: getattr(t, name) for name in StationTiming.__slots__})
            for t in found.stations
        ],
    )
