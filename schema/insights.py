"""A day's insights over GraphQL: the numbers the insights page draws and its CSV lists, from the
same read service (server/insights/service.py), so the three cannot disagree."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated

import strawberry

from schema.context import Info
from schema.errors import Forbidden, InvalidInput, InvalidMove, outcome
from server.insights import figures as model
from server.orders.model import OrderType


@strawberry.type(description="Where orders came from: a Dojo product (or staff) and an order type.")
class OrderSeries:
    label: str = strawberry.field(description="How the page's legend names it: `Order&Pay · collection`.")
    product: str | None = strawberry.field(
        description="The Dojo product that placed them (`dojo-requesting-product`); null: staff or the POS."
    )
    order_type: OrderType = strawberry.field(description="Dine in or collection.")
    orders: int = strawberry.field(description="How many orders of the day came this way.")


@strawberry.type(description="A quarter hour of the venue's wall clock and the orders placed in it.")
class QuarterHour:
    start: str = strawberry.field(description="When it begins, on the venue's clock: `12:15`.")
    counts: list[int] = strawberry.field(
        description="Orders placed in it from each of `Insights.series`, in that order."
    )
    total: int = strawberry.field(description="Orders placed in it.")
    last_week: int = strawberry.field(description="Orders placed in it on the same weekday a week before.")


@strawberry.type(description="Ticket times, from a ticket's arrival on the line to Ready.")
class Timing:
    tickets: int = strawberry.field(description="How many tickets were made Ready.")
    median_seconds: float | None = strawberry.field(
        description="The median, in seconds; null without tickets."
    )
    p90_seconds: float | None = strawberry.field(
        description="The 90th percentile (nearest rank: a time some ticket took), in seconds; "
        "null without tickets."
    )


@strawberry.type(description="Ticket times of the tickets that arrived in an hour of the venue's clock.")
class HourTiming:
    hour: int = strawberry.field(description="The hour, 0 to 23, on the venue's clock.")
    today: Timing = strawberry.field(description="The day's tickets that arrived in it.")
    last_week: Timing = strawberry.field(description="The same hour, on the same weekday a week before.")


@strawberry.type(description="A prep station's day: arrival there to its bump, and what waits now.")
class StationDay:
    station: str = strawberry.field(description="The station's id.")
    name: str = strawberry.field(description="Its name, for people.")
    made: int = strawberry.field(description="Item lines it bumped, of the day's orders.")
    median_seconds: float | None = strawberry.field(
        description="The median from an item's arrival there to its bump, in seconds; "
        "null if none was bumped."
    )
    p90_seconds: float | None = strawberry.field(
        description="The 90th percentile of that time, in seconds; null if none was bumped."
    )
    waiting: int = strawberry.field(
        description="Item lines there still to make now, on the day's open orders that have arrived."
    )


@strawberry.type(
    description="A ticket that went past red: an ASAP one waited the red threshold, a timed one was "
    "not Ready when due."
)
class LateTicket:
    order_id: strawberry.ID = strawberry.field(description="The order's id: its history is `order(id)`.")
    title: str = strawberry.field(description="Its reference, display name, or id.")
    arrived_at: datetime = strawberry.field(
        description="When it arrived on the line (a timed one: when it fired)."
    )
    readied_at: datetime | None = strawberry.field(
        description="When it was made Ready; null while it is not."
    )
    seconds: float = strawberry.field(description="Its ticket time in seconds, or so far while not Ready.")
    over_seconds: float = strawberry.field(
        description="How far past red (or past due, if timed), in seconds."
    )
    timed: bool = strawberry.field(description="Placed for a time, and judged against it.")


@strawberry.type(description="An item and how many were ordered.")
class ItemCount:
    name: str = strawberry.field(description="The item's name, as the menu gave it.")
    quantity: int = strawberry.field(description="How many were ordered, on the day's orders not canceled.")


@strawberry.type(
    description="A day in the venue's time zone, for the manager: orders, ticket times, stations, "
    "late tickets and the item mix, beside the same weekday a week before. The insights page and "
    "its CSV show these same numbers."
)
class Insights:
    day: date = strawberry.field(description="The day, in the venue's time zone.")
    last_week_day: date = strawberry.field(description="The same weekday a week before.")
    timezone: str = strawberry.field(description="The venue's time zone (ORDERPASS_TIMEZONE).")
    live: bool = strawberry.field(description="Whether the day is still running.")
    amber_seconds: int = strawberry.field(
        description="The KDS's amber threshold (ORDERPASS_KDS_AMBER_SECONDS)."
    )
    red_seconds: int = strawberry.field(description="The KDS's red threshold (ORDERPASS_KDS_RED_SECONDS).")
    orders: int = strawberry.field(description="Orders placed in the day, whatever became of them.")
    last_week_orders: int = strawberry.field(description="Orders placed on the same weekday a week before.")
    series: list[OrderSeries] = strawberry.field(description="Where the day's orders came from, most first.")
    quarter_hours: list[QuarterHour] = strawberry.field(
        description="All 96 quarter hours of the venue's clock, from 00:00."
    )
    ticket_time: Timing = strawberry.field(description="Ticket times of the whole day.")
    last_week_ticket_time: Timing = strawberry.field(
        description="Ticket times of the same weekday a week before."
    )
    hours: list[HourTiming] = strawberry.field(description="Ticket times per hour, all 24, from 00:00.")
    stations: list[StationDay] = strawberry.field(
        description="Each prep station's day, in the venue's order."
    )
    late_count: int = strawberry.field(description="How many tickets went past red.")
    late: list[LateTicket] = strawberry.field(
        description=f"The late tickets by arrival, the first {model.LATE_LISTED}."
    )
    item_mix: list[ItemCount] = strawberry.field(
        description=f"The top {model.ITEM_MIX} items of the day by quantity ordered."
    )


InsightsResult = Annotated[
    Insights | InvalidInput | Forbidden,
    strawberry.union("InsightsResult", description="The day's insights, or why not."),
]


@strawberry.type
class InsightsQuery:
    @strawberry.field(description="A day's insights, for the manager (any staff token may read them).")
    async def insights(
        self,
        info: Info,
        day: Annotated[
            date | None,
            strawberry.argument(
                description="The day, in the venue's time zone; today if null. Not after today."
            ),
        ] = None,
    ) -> InsightsResult:
        result = await outcome(info.context.services.insights.day(day, by=info.context.staff))
        assert not isinstance(result, InvalidMove), "reading moves nothing"
        if isinstance(result, model.Figures):
            return insights(result)
        assert isinstance(result, InvalidInput | Forbidden), "a read finds nothing missing nor in conflict"
        return result


# -- from the domain ----------------------------------------------------------------------------


def insights(found: model.Figures) -> Insights:
    return Insights(
        day=found.day,
        last_week_day=found.last_week_day,
        timezone=found.timezone,
        live=found.live,
        amber_seconds=found.amber_seconds,
        red_seconds=found.red_seconds,
        orders=found.orders,
        last_week_orders=found.last_week_orders,
        series=[OrderSeries(label=s.label, product=s.product, order_type=s.order_type, orders=s.orders)
                for s in found.series],
        quarter_hours=[QuarterHour(start=f"{slot.start:%H:%M}", counts=list(slot.counts), total=slot.total,
                                   last_week=slot.last_week) for slot in found.slots],
        ticket_time=timing(found.ticket_time),
        last_week_ticket_time=timing(found.last_week_ticket_time),
        hours=[HourTiming(hour=h.hour, today=timing(h.today), last_week=timing(h.last_week))
               for h in found.hours],
        stations=[StationDay(**{name: getattr(s, name) for name in model.StationDay.__slots__})
                  for s in found.stations],
        late_count=found.late_count,
        late=late(found.late),
        item_mix=[ItemCount(name=name, quantity=quantity) for name, quantity in found.item_mix],
    )  # fmt: skip


def timing(found: model.Timing) -> Timing:
    return Timing(tickets=found.samples, median_seconds=found.median_seconds, p90_seconds=found.p90_seconds)


def late(found: Sequence[model.Late]) -> list[LateTicket]:
    return [
        LateTicket(
            order_id=strawberry.ID(t.order_id),
            title=t.title,
            arrived_at=t.arrived_at,
            readied_at=t.readied_at,
            seconds=t.seconds,
            over_seconds=t.over_seconds,
            timed=t.timed,
        )
        for t in found
    ]
