"""The service layer for prep stations: the venue's stations and routing rules, and the pass.

A station bumps its items (all of its part of a ticket, or some); the order follows in Dojo's
statuses through the lifecycle table: the first bump at any station moves it on to Preparing
(accepting it first if nobody had), and the last station's bump makes it Prepared, for the
expo screen to send out. Bringing items back reopens a Prepared order. Each of these is one
change, recorded and published like any other.

Every kitchen ticket and board is drawn with the stations, so each process keeps a copy of them
(server/copies.py, announced on `CHANNEL`). What writes an order (CreateOrder's batch, an
amendment, the timed-order firing) reads them in its own transaction instead: an item must go to
a station that is there when it is written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, Unpack

from sqlalchemy.ext.asyncio import AsyncConnection

from server.actors import POS, Actor
from server.changes.model import Change, ChangeKind, HistoryEntry
from server.copies import FRESH_FOR, Copy
from server.errors import Conflict, InvalidRequest
from server.lifecycle import ACTIVE, BRING_BACK, OrderStatus, reopened_by_items, started_by_station
from server.orders import rows as order_rows
from server.orders.model import Order
from server.orders.rows import to_change
from server.service import Parts, Service, status_steps
from server.staff.roles import Permission
from server.stations import rows as prep_rows
from server.stations.routing import PrepLine, Routing, Rule, Station, check_rules, mark

S = OrderStatus
CHANNEL: Final = "orderpass.stations"


class Prep(Service):
    def __init__(self, *, fresh_for: float = FRESH_FOR, **parts: Unpack[Parts]) -> None:
        super().__init__(**parts)
        self.copy = Copy(self._read, broker=self.broker, channel=CHANNEL, fresh_for=fresh_for)

    # -- the venue's stations -------------------------------------------------------------------

    async def routing(self) -> Routing:
        """The stations and rules as this process last read them (again, if that was too long ago)."""
        return await self.copy.get()

    async def _read(self) -> Routing:
        async with self.store.read() as tx:
            return await prep_rows.routing(tx)

    async def save_station(self, station: Station, *, by: Actor) -> Routing:
        """Add a station or rename, reorder or make it the default (the old default stops being)."""
        by.require(Permission.ADMIN)
        async with self.store.write() as tx:
            current = await prep_rows.routing(tx)
            others = [s for s in current.stations if s.id != station.id]
            if station.is_default:
                others = [dataclasses.replace(s, is_default=False) for s in others]
            routing = Routing((*others, station), current.rules)  # checks exactly one default
            for changed in routing.stations:
                await prep_rows.save_station(tx, changed, now=self.clock.now())
            routing = await prep_rows.routing(tx)
        await self.copy.changed(routing)
        return routing

    async def remove_station(self, station_id: str, *, by: Actor) -> Routing:
        """Remove a station and its rules; not the default, nor one with items still to make."""
        by.require(Permission.ADMIN)
        async with self.store.write() as tx:
            current = await prep_rows.routing(tx)
            station = current.station(station_id)
            if station.is_default:
                raise Conflict(f"{station_id} is the default station; make another the default first")
            waiting = await prep_rows.undone_on_active_orders(tx, station_id, [s.value for s in ACTIVE])
            if waiting:
                raise Conflict(f"{station_id} still has {waiting} item(s) to make on open orders")
            await prep_rows.remove_station(tx, station_id)
            routing = await prep_rows.routing(tx)
        await self.copy.changed(routing)
        return routing

    async def set_rules(self, station_id: str, rules: Sequence[Rule], *, by: Actor) -> Routing:
        """This station's rules become exactly these; orders placed from now on route by them."""
        by.require(Permission.ADMIN)
        check_rules(rules)
        if any(rule.station_id != station_id for rule in rules):
            raise InvalidRequest("every rule given here routes to this station", field="rules")
        async with self.store.write() as tx:
            current = await prep_rows.routing(tx)
            current.station(station_id)
            await prep_rows.replace_rules(tx, station_id, rules)
            routing = await prep_rows.routing(tx)
        await self.copy.changed(routing)
        return routing

    async def replace_all(self, routing: Routing, *, by: Actor) -> Routing:
        """A venue's stations and rules from a file (`orderpass stations load`)."""
        by.require(Permission.ADMIN)
        check_rules(routing.rules)
        async with self.store.write() as tx:
            await prep_rows.replace_all(tx, routing, now=self.clock.now())
            routing = await prep_rows.routing(tx)
        await self.copy.changed(routing)
        return routing

    # -- the pass -------------------------------------------------------------------------------

    async def recently_done(self, station_id: str, *, window: timedelta, limit: int) -> list[Order]:
        """What a station finished last, within `window`, that it can still bring back: its recall list."""
        since = self.clock.now() - window
        async with self.store.read() as tx:
            statuses = [s.value for s in BRING_BACK]
            ids = await prep_rows.done_recently(tx, station_id, since=since, statuses=statuses)
            orders = await order_rows.load_orders(tx, ids)
        return station_recalls(orders, station_id, since=since, limit=limit)

    async def bump(
        self,
        order_id: str,
        station_id: str,
        *,
        lines: Sequence[int] | None = None,
        by: Actor,
        tap: str | None = None,
    ) -> Order:
        """This station's items of the order (or just `lines`) are done. With `tap` (a screen's
        id for the tap), a retry of a bump already made changes nothing."""
        by.require(Permission.MOVE)
        async with self.store.write() as tx:
            order = await to_change(tx, order_id)
            if await self._replayed(tx, order, tap, action=f"bump {station_id}"):
                return order
            chosen = _chosen(order, station_id, lines)
            todo = [line.line for line in chosen if not line.done]
            if not todo:
                raise Conflict(f"nothing left to bump at {station_id} on order {order_id}")
            now = self.clock.now()
            prep = mark(order.prep, todo, done_at=now)
            path = started_by_station(order.status, all_made=all(line.done for line in prep))
            await prep_rows.set_done(tx, order_id, todo, at=now)
            detail = {"station": station_id, "done": todo}
            order, change = await self._advance(tx, order, prep, path, detail=detail, by=by, now=now)
        await self._publish(change)
        return order

    async def bring_back(
        self,
        order_id: str,
        station_id: str,
        *,
        lines: Sequence[int] | None = None,
        by: Actor,
        tap: str | None = None,
    ) -> Order:
        """Undo a station's bump (a dish sent back, a bump by mistake): a Prepared order reopens.
        With `tap`, as `bump`."""
        by.require(Permission.MOVE)
        async with self.store.write() as tx:
            order = await to_change(tx, order_id)
            if await self._replayed(tx, order, tap, action=f"bring-back {station_id}"):
                return order
            chosen = [line.line for line in _chosen(order, station_id, lines) if line.done]
            if not chosen:
                raise Conflict(f"nothing bumped at {station_id} on order {order_id} to bring back")
            if order.status not in BRING_BACK:
                raise Conflict(f"order {order_id} is {order.status.value}: too late to bring items back")
            now = self.clock.now()
            prep = mark(order.prep, chosen, done_at=None)
            path = reopened_by_items(order.status)
            await prep_rows.set_done(tx, order_id, chosen, at=None)
            detail = {"station": station_id, "undone": chosen}
            order, change = await self._advance(tx, order, prep, path, detail=detail, by=by, now=now)
        await self._publish(change)
        return order

    async def _advance(
        self,
        tx: AsyncConnection,
        order: Order,
        prep: tuple[PrepLine, ...],
        path: Sequence[OrderStatus],
        *,
        detail: dict[str, Any],
        by: Actor,
        now: datetime,
    ) -> tuple[Order, Change]:
        """One change: the items' new state, then each status step the table allows."""
        entries = [HistoryEntry(order.id, now, ChangeKind.PREP_CHANGED, by, detail=detail)]
        # The cook's bump starts the order; the pass, not the last cook, makes it Prepared.
        entries += status_steps(order, path, now=now, actor=lambda step: POS if step is S.PREPARED else by)
        kind = ChangeKind.STATUS_CHANGED if path else ChangeKind.PREP_CHANGED
        with_prep = dataclasses.replace(order, prep=prep)
        return await self._record(tx, with_prep, kind, entries, now=now, status=path[-1] if path else None)


def station_recalls(orders: Iterable[Order], station: str, *, since: datetime, limit: int) -> list[Order]:
    """The orders whose part at this station is all done, last done since `since`, and can still
    be brought back: the station's recall list, the one it finished last first."""
    finished: dict[str, tuple[datetime, Order]] = {}
    for order in orders:
        mine = [line for line in order.prep if line.station == station]
        done = [line.done_at for line in mine if line.done_at is not None]
        if order.status in BRING_BACK and mine and len(done) == len(mine) and max(done) >= since:
            finished[order.id] = (max(done), order)
    ranked = sorted(finished.values(), key=lambda pair: pair[0], reverse=True)
    return [order for _, order in ranked[:limit]]


def _chosen(order: Order, station_id: str, lines: Sequence[int] | None) -> list[PrepLine]:
    mine = [line for line in order.prep if line.station == station_id]
    if not mine:
        raise InvalidRequest(f"order {order.id} has nothing for {station_id}", field="station")
    if lines is None:
        return mine
    by_line = {line.line: line for line in mine}
    strangers = sorted(set(lines) - set(by_line))
    if strangers:
        raise InvalidRequest(
            f"line(s) {', '.join(map(str, strangers))} of order {order.id} are not at {station_id}",
            field="lines",
        )
    return [by_line[n] for n in dict.fromkeys(lines)]
