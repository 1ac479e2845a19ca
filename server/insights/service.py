"""What a manager reads about a day: the insights read service. The page, its CSV and GraphQL's
`insights` each make this one call, so their numbers cannot differ. One snapshot reads the
day's orders and items and the same weekday a week before; the maths is server/insights/figures.py."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

from server.actors import Actor
from server.clock import Clock
from server.insights import rows
from server.insights.days import bounds, check_day, parse_day, today_in
from server.insights.figures import Day, Figures, Rules, figures
from server.schedule import PrepTimes
from server.settings import Settings
from server.staff.roles import Permission
from server.stations import rows as prep_rows
from server.store import Store

WEEK = timedelta(days=7)


class Insights:
    def __init__(self, *, store: Store, clock: Clock, settings: Settings) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings
        self.zone = ZoneInfo(settings.timezone)

    def today(self) -> date:
        """The venue's calendar day now."""
        return today_in(self.zone, self.clock.now())

    async def day(self, asked: date | str | None, *, by: Actor) -> Figures:
        """The figures of a day (a date, `YYYY-MM-DD` as a door received it, or None: today) in
        the venue's time zone; InvalidRequest for a malformed day or one not yet begun."""
        by.require(Permission.READ)
        now = self.clock.now()
        today = today_in(self.zone, now)
        day = check_day(asked, today=today) if isinstance(asked, date) else parse_day(asked, today=today)
        async with self.store.read() as tx:
            routing = await prep_rows.routing(tx)
            this, before = await self._read(tx, day), await self._beside(tx, day - WEEK)
        settings = self.settings
        rules = Rules(
            amber_seconds=settings.kds_amber_seconds,
            red_seconds=settings.kds_red_seconds,
            prep=PrepTimes.of(routing, minutes=settings.prep_minutes),
        )
        names = {station.id: station.name for station in routing.stations}
        return figures(this, before, stations=names, rules=rules, zone=self.zone, now=now)

    async def _read(self, tx: AsyncConnection, day: date) -> Day:
        start, end = bounds(day, self.zone)
        return Day.of(day, await rows.placed_between(tx, start, end), await rows.made_between(tx, start, end))

    async def _beside(self, tx: AsyncConnection, day: date) -> Day:
        """Last week's day: its orders, and where their items went, not the items themselves."""
        start, end = bounds(day, self.zone)
        return Day(day, await rows.placed_between(tx, start, end), await rows.routed_between(tx, start, end))
