"""A day of a busy venue, played through the service layer on a ManualClock: the simulator's own
orders (server/simulate.py: dine-in from Pay at Table, collections from Order & Pay, a few timed,
a few canceled) arriving with a lunch and a dinner peak, each station bumping its part after a
while (longer when the kitchen is busier), the pass making the order Ready and handing paid ones
over. Every timestamp is written where the app writes it, as the kitchen would have. For the
insights bench (bench/insights.py) and the README's picture of the page (tests/screenshot.py)."""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

import orjson

from server import simulate, venue
from server.actors import POS, Actor
from server.clock import ManualClock
from server.errors import Conflict
from server.lifecycle import OrderStatus
from server.orders.model import OrderDraft
from server.schedule import PrepTimes, fire_at
from server.services import Services
from server.staff.roles import Role

ROOT = Path(__file__).resolve().parents[1]
PASS: Final = Actor.staff("pass", Role.KITCHEN)
# Orders per hour of the venue's clock, relatively: lunch, a lull, dinner.
HOURS: Final = {11: 3, 12: 10, 13: 9, 14: 4, 15: 2, 16: 2, 17: 5, 18: 10, 19: 12, 20: 9, 21: 4}
# How long each station takes over its part, in minutes, on a quiet afternoon.
TAKES: Final = {"bar": (1, 2), "grill": (4, 9), "fryer": (3, 7), "pizza": (5, 9), "kitchen": (2, 6)}


@dataclass(order=True)
class _Event:
    at: datetime
    number: int
    act: Callable[[], Awaitable[None]] = field(compare=False)


async def load_venue(services: Services) -> None:
    """The example venue's stations and routing (examples/venue.toml), as `venue load` lays them."""
    parsed = venue.parse((ROOT / "examples" / "venue.toml").read_text())
    await services.prep.replace_all(parsed.routing, by=POS)


async def play(services: Services, clock: ManualClock, day: date, *, orders: int, seed: int = 15) -> None:
    """`orders` orders placed over `day` in the venue's time zone, and all the kitchen did to them."""
    rng = random.Random(f"{seed}-{day.isoformat()}")
    zone = ZoneInfo(services.settings.timezone)
    hours = rng.choices(list(HOURS), weights=list(HOURS.values()), k=orders)
    arrivals = sorted(
        datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)
        + timedelta(seconds=rng.uniform(0, 3600))
        for hour in hours
    )
    busy = {hour: weight / max(HOURS.values()) for hour, weight in HOURS.items()}
    prep = PrepTimes.of(await services.prep.routing(), minutes=services.settings.prep_minutes)
    queue: list[_Event] = []
    numbers = itertools.count()

    def later(at: datetime, act: Callable[[], Awaitable[None]]) -> None:
        heapq.heappush(queue, _Event(at, next(numbers), act))

    async def place(number: int) -> None:
        plan = simulate.plan_order(rng, number=number, run=f"day{day:%m%d}", now=clock.now())
        draft = OrderDraft.model_validate_json(orjson.dumps(plan.body))  # strict: as from the wire
        order = await services.orders.place(draft, by=Actor.dojo(plan.headers))
        if plan.cancel:
            await services.orders.cancel(order.id, by=Actor.dojo(plan.headers))
            return
        slower = 1 + 0.5 * busy.get(clock.now().astimezone(zone).hour, 0.2)  # a peak: half as slow again
        done = clock.now()
        for station in sorted({line.station for line in order.prep}):
            start = max(clock.now(), fire_at(order, prep, station=station) or clock.now())
            low, high = TAKES.get(station, (3, 8))
            bump_at = start + timedelta(minutes=rng.uniform(low, high) * slower)
            later(bump_at, _bump(services, order.id, station))
            done = max(done, bump_at)
        ready_at = done + timedelta(seconds=rng.uniform(20, 90))
        later(ready_at, _move(services, order.id, OrderStatus.READY))
        if order.paid_in_full:
            later(
                ready_at + timedelta(minutes=rng.uniform(1, 6)),
                _move(services, order.id, OrderStatus.FINALIZED),
            )

    def placing(number: int) -> Callable[[], Awaitable[None]]:
        return lambda: place(number)

    for number, arrival in enumerate(arrivals):
        later(arrival, placing(number))
    while queue:
        event = heapq.heappop(queue)
        clock.advance(event.at - clock.now())
        await event.act()


def _bump(services: Services, order_id: str, station: str) -> Callable[[], Awaitable[None]]:
    async def bump() -> None:
        with suppress(Conflict):  # bumped already by the whole-order pass
            await services.prep.bump(order_id, station, by=PASS)

    return bump


def _move(services: Services, order_id: str, to: OrderStatus) -> Callable[[], Awaitable[None]]:
    async def move() -> None:
        with suppress(Conflict):  # the table refuses it (not paid in full, say): it stays where it is
            await services.orders.move(order_id, to, by=PASS)

    return move
