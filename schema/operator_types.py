"""What an operator watches over GraphQL: payments no order holds, POS events owed to Dojo,
and the kitchen's speed."""

from __future__ import annotations

from datetime import datetime

import strawberry

from server.dojo.connection import LinkState, LinkStatus
from server.lifecycle import OrderStatus
from server.orders.stats import KitchenStats, StationTiming, StatusTiming
from server.payments.model import PaymentStatus, UnmatchedPayment


@strawberry.type(
    name="UnmatchedPayment",
    description="A payment intent Dojo told us about that no order holds yet. Dojo's payment-intent "
    "API is asked which order it belongs to, again and again with backoff (30 s, doubling, up to an hour).",
)
class UnmatchedPaymentNode:
    payment_intent_id: str = strawberry.field(description="Dojo's payment intent.")
    status: PaymentStatus = strawberry.field(description="The status its newest event reported.")
    status_at: datetime = strawberry.field(description="When Dojo created its newest event.")
    first_seen_at: datetime = strawberry.field(description="When its first event reached us.")
    events: int = strawberry.field(description="How many events named it.")
    lookups: int = strawberry.field(description="Times Dojo's payment-intent API was asked, in vain.")
    last_error: str | None = strawberry.field(description="Why the last lookup failed; null before any.")
    next_lookup_at: datetime | None = strawberry.field(
        description="When Dojo's API is asked next; null before the first lookup."
    )


@strawberry.type(name="DojoOutbox", description="POS events owed to Dojo and not yet delivered.")
class DojoOutboxNode:
    owed: int = strawberry.field(
        description="OrderUpdated events written for Dojo and not yet delivered: Dojo's view of "
        "those orders is behind until they are."
    )
    failing: int = strawberry.field(description="Of those, how many have failed at least once.")
    oldest_undelivered_at: datetime | None = strawberry.field(
        description="When the oldest undelivered change happened; null when nothing is owed."
    )


@strawberry.type(name="DojoConnection", description="The one WebSocket to Dojo, as every process sees it.")
class DojoConnectionNode:
    state: LinkState = strawberry.field(description="Where the socket is.")
    connected_since: datetime | None = strawberry.field(
        description="Since when it is up; null unless connected."
    )
    last_error: str | None = strawberry.field(
        description="What went wrong last, in our words; null if nothing has."
    )
    calls_served: int = strawberry.field(description="Calls Dojo made over the socket and we answered.")
    holder: str | None = strawberry.field(description="The process holding it (host:pid:nonce).")


def connection(found: LinkStatus) -> DojoConnectionNode:
    return DojoConnectionNode(
        state=found.state,
        connected_since=found.connected_since,
        last_error=found.last_error,
        calls_served=found.calls_served,
        holder=found.holder,
    )


@strawberry.type(description="How many orders placed since `since` are in a status now.")
class StatusCount:
    status: OrderStatus = strawberry.field(description="The status they are in.")
    orders: int = strawberry.field(description="How many orders placed since `since` are in it now.")


@strawberry.type(
    description="How long orders stayed in a status: stays that began and ended since `since`, "
    "from the orders' history."
)
class StatusTime:
    status: OrderStatus = strawberry.field(description="The status the orders stayed in.")
    samples: int = strawberry.field(description="How many stays were measured.")
    median_seconds: float = strawberry.field(description="The median stay, in seconds.")
    p90_seconds: float = strawberry.field(
        description="The 90th percentile stay, in seconds: nine stays in ten were no longer."
    )


@strawberry.type(description="A prep station's speed: from an item arriving there to its bump.")
class StationTime:
    station: str = strawberry.field(description="The station's id.")
    waiting: int = strawberry.field(description="Items still to make there, on open orders.")
    samples: int = strawberry.field(description="Items it bumped since `since`.")
    median_seconds: float | None = strawberry.field(
        description="The median time from an item's arrival to its bump, in seconds; null without samples."
    )
    p90_seconds: float | None = strawberry.field(
        description="The 90th percentile of that time, in seconds; null without samples."
    )


@strawberry.type(name="KitchenStats", description="The kitchen's speed of service since a moment.")
class KitchenStatsNode:
    since: datetime = strawberry.field(description="The moment these count from.")
    orders_by_status: list[StatusCount] = strawberry.field(
        description="Orders placed since then, by the status each is in now: every status, in order."
    )
    time_in_status: list[StatusTime] = strawberry.field(
        description="Time spent in each status, for the statuses with a stay measured."
    )
    by_station: list[StationTime] = strawberry.field(
        description="Each prep station's speed, in the venue's order (and a removed station's, "
        "while its items still count)."
    )


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
