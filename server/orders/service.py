"""The service layer for orders: place, read, search, move and cancel.

One async method per use case. Each opens one transaction, checks the rules, writes the
change with its history and change-log rows, commits, then publishes. Both front doors (the
Dojo REST shim and GraphQL) call these methods and nothing below them.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Unpack

from sqlalchemy.ext.asyncio import AsyncConnection

from server import spans
from server.actors import Actor
from server.changes import outbox
from server.changes import rows as changes
from server.changes.model import Change, ChangeKind, HistoryEntry
from server.clock import utc_or_invalid
from server.errors import Conflict, InvalidRequest, NotFound
from server.lifecycle import (
    ACTIVE,
    BUMP,
    PAYMENT_ALTERING,
    RECALL,
    OrderStatus,
    check_dojo_cancel,
    check_move,
    marks_every_item_made,
)
from server.ordering.service import Ordering
from server.orders import rows as order_rows
from server.orders import search
from server.orders.filters import SearchFilters
from server.orders.model import Order, OrderDraft
from server.orders.placing import GroupCommit, Placement
from server.orders.rows import existing, to_change
from server.orders.stats import KitchenStats, kitchen_stats, station_timings
from server.paging import DOJO_CURSOR, KEYWORDS, Key, Page, PageFields, PageRequest, page_of, scope_of
from server.service import Parts, Service
from server.staff.roles import Permission
from server.stages import STAGES, Stage
from server.stations import rows as prep_rows
from server.stations.routing import mark

MAX_ACTIVE: Final = 1000  # a kitchen with more open orders than this has other problems
ALL_ACTIVE: Final = STAGES["all"]


@dataclass(frozen=True, slots=True)
class ActiveOrders:
    orders: list[Order]  # oldest first, up to the limit asked for
    total: int  # how many open orders the stage holds in all, on this page or not


class Orders(Service):
    def __init__(
        self, *, auto_confirm: bool = False, ordering: Ordering | None = None, **parts: Unpack[Parts]
    ) -> None:
        """`ordering`: which Dojo products' new orders are paused; None, never any."""
        super().__init__(**parts)
        gate = ordering.gate if ordering is not None else None
        self.placing = GroupCommit(self, auto_confirm=auto_confirm, new_id=new_order_id, gate=gate)

    # -- placing --------------------------------------------------------------------------------

    async def place(self, draft: OrderDraft, *, by: Actor, client_key: str | None = None) -> Order:
        """Place an order. A retry (the same Dojo order id, or the same client key) returns the
        order it already placed; the same id with a different order is a Conflict; a new order
        from a Dojo product the kitchen paused is OrderingPaused. Requests that arrive together
        share one transaction (server/orders/placing.py), each with its own answer."""
        by.require(Permission.CREATE)
        return await self.placing.place(Placement(draft, by, client_key, spans.origin()))

    # -- reading --------------------------------------------------------------------------------

    async def get(self, order_id: str) -> Order:
        async with self.store.read() as tx:
            return await existing(tx, order_id)

    async def get_many(self, order_ids: list[str]) -> list[Order]:
        """The orders that exist among these ids, in the order asked."""
        async with self.store.read() as tx:
            return await order_rows.load_orders(tx, order_ids)

    async def history(self, order_id: str) -> list[HistoryEntry]:
        async with self.store.read() as tx:
            if not await order_rows.order_exists(tx, order_id):
                raise NotFound(f"no order {order_id}")
            return (await changes.histories(tx, [order_id]))[order_id]

    async def histories(self, order_ids: list[str]) -> dict[str, list[HistoryEntry]]:
        async with self.store.read() as tx:
            return await changes.histories(tx, order_ids)

    async def search(
        self,
        filters: SearchFilters,
        *,
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
        fields: PageFields = DOJO_CURSOR,
    ) -> Page[Order]:
        """A page of the orders that match, oldest first; a refusal names the paging arguments
        as `fields` spells them (Dojo's `cursor.limit`, GraphQL's `first`)."""
        scope = scope_of(*dataclasses.astuple(filters))
        page = PageRequest.parse(limit=limit, after=after, before=before, scope=scope, fields=fields)
        async with self.store.read() as tx:
            ids, more = await search.search_ids(
                tx, where=search.filters(filters), after=page.after, before=page.before, limit=page.limit
            )
            orders = await order_rows.load_orders(tx, ids)
        keys = [Key(order.created_at, order.id) for order in orders]
        return page_of(orders, keys, page, more=more, scope=scope)

    async def count(self, filters: SearchFilters) -> int:
        async with self.store.read() as tx:
            return await search.count(tx, search.filters(filters))

    async def active(
        self,
        stage: Stage = ALL_ACTIVE,
        *,
        limit: int = MAX_ACTIVE,
        after: str | None = None,
        fields: PageFields = KEYWORDS,
    ) -> ActiveOrders:
        """The open orders a stage's screen holds, oldest first: `limit` of them, after the order
        `after`, and how many there are in all, so a reader that stops at the limit knows what
        it leaves out (past the limit it is always the newest that wait)."""
        if not 1 <= limit <= MAX_ACTIVE:
            raise InvalidRequest(f"{fields.limit}: must be between 1 and {MAX_ACTIVE}", field=fields.limit)
        async with self.store.read() as tx:
            if after is None:  # a board as it loads: its statements built once (search.OnScreen)
                ids, total = await search.first_on_screen(tx, _screen(stage), limit)
                return ActiveOrders(await order_rows.load_orders(tx, ids), total)
            key = await search.key_of(tx, after)
            if key is None:
                raise InvalidRequest(f"{fields.after}: no order {after}", field=fields.after)
            screen = _screen(stage)
            where = list(screen.where)
            ids, _ = await search.search_ids(tx, where=where, after=key, before=None, limit=limit)
            total = await search.count_on_screen(tx, screen)
            return ActiveOrders(await order_rows.load_orders(tx, ids), total)

    async def open_at_tables(self, table_ids: Sequence[str]) -> dict[str, list[Order]]:
        """The open orders at each of these tables (by `dineIn.tableId`), oldest first; at most
        MAX_ACTIVE in all, as a kitchen's board holds."""
        where = [*search.open_where(ACTIVE), search.at_tables(table_ids)]
        async with self.store.read() as tx:
            ids, _ = await search.search_ids(tx, where=where, after=None, before=None, limit=MAX_ACTIVE)
            orders = await order_rows.load_orders(tx, ids)
        found: dict[str, list[Order]] = {table_id: [] for table_id in table_ids}
        for order in orders:
            dine_in = order.content.details.dine_in
            if dine_in is not None and dine_in.table_id in found:
                found[dine_in.table_id].append(order)
        return found

    async def timed(self, stage: Stage = ALL_ACTIVE) -> list[Order]:
        """The open orders of a stage placed for a time (server/schedule.py), oldest first."""
        where = [*_on(stage), search.timed_where()]
        async with self.store.read() as tx:
            ids, _ = await search.search_ids(tx, where=where, after=None, before=None, limit=MAX_ACTIVE)
            return await order_rows.load_orders(tx, ids)

    async def active_count(self, stage: Stage = ALL_ACTIVE) -> int:
        """How many open orders a stage's screen holds, however many that is."""
        async with self.store.read() as tx:
            return await search.count_on_screen(tx, _screen(stage))

    async def last_sequence(self) -> int:
        """The newest change's sequence: load the board, then subscribe since this, and miss nothing."""
        async with self.store.read() as tx:
            return await changes.last_sequence(tx)

    async def changes_after(self, sequence: int, *, limit: int) -> list[Change]:
        async with self.store.read() as tx:
            return await changes.changes_after(tx, sequence, limit=limit)

    async def recently_bumped(self, *, window: timedelta, limit: int) -> list[Order]:
        """The orders last bumped forward within the window, newest bump first, that are still
        where the bump left them and can be recalled from there."""
        async with self.store.read() as tx:
            moves = await changes.recent_moves(tx, since=self.clock.now() - window, limit=limit * 5)
            bumped = [m for m in moves if m.from_status and BUMP.get(m.from_status) is m.to_status]
            latest = {m.order_id: m for m in reversed(bumped)}  # the newest move per order wins
            ids = sorted(latest, key=lambda order_id: latest[order_id].at, reverse=True)
            orders = await order_rows.load_orders(tx, ids)
        recallable = [o for o in orders if o.status is latest[o.id].to_status and o.status in RECALL]
        return recallable[:limit]

    async def status_counts(self) -> dict[OrderStatus, int]:
        """How many orders are in each status, of all time: what an operator graphs."""
        async with self.store.read() as tx:
            return await search.status_counts(tx, since=None)

    async def owed_to_dojo(self) -> outbox.Depth:
        """POS events written but not yet delivered to Dojo: what an operator watches."""
        async with self.store.read() as tx:
            return await outbox.depth(tx)

    async def stats(self, since: datetime) -> KitchenStats:
        since = utc_or_invalid(since, field="since")
        async with self.store.read() as tx:
            counts = await search.status_counts(tx, since=since)
            entries = await changes.history_since(tx, since)
            routing = await prep_rows.routing(tx)
            done = await prep_rows.done_since(tx, since)
            waiting = await prep_rows.waiting_by_station(tx, [s.value for s in ACTIVE])
        found = kitchen_stats(since=since, counts=counts, entries=entries)
        by_station = station_timings([s.id for s in routing.stations], done, waiting)
        return dataclasses.replace(found, stations=by_station)

    # -- moving ---------------------------------------------------------------------------------

    async def move(
        self,
        order_id: str,
        to: OrderStatus,
        *,
        by: Actor,
        expected: OrderStatus | None = None,
        tap: str | None = None,
    ) -> Order:
        """Move an order as the lifecycle table allows. With `expected`, refuse (Conflict) if the
        order is no longer in the status the caller saw: two cooks bumping at once, one wins.
        With `tap` (a screen's id for the tap), a retry of a move already made changes nothing."""
        by.require(Permission.CANCEL if to is OrderStatus.CANCELED else Permission.MOVE)
        async with self.store.write() as tx:
            order = await to_change(tx, order_id)
            if await self._replayed(tx, order, tap, action=f"move {to.value}"):
                return order
            if order.status is to or (expected is not None and order.status is not expected):
                raise Conflict(f"order {order_id} is already {order.status.value}")
            order, change = await self._move(tx, order, to, by=by)
        await self._publish(change)
        return order

    async def cancel(self, order_id: str, *, by: Actor, reason: str | None = None) -> Order:
        """Cancel an order; cancelling a Canceled order again changes nothing and returns it.
        Dojo may cancel only before the kitchen accepts; staff may cancel any active order."""
        by.require(Permission.CANCEL)
        async with self.store.write() as tx:
            order = await to_change(tx, order_id)
            if order.status is OrderStatus.CANCELED:
                return order
            if by.is_dojo:
                check_dojo_cancel(order.status)
            order, change = await self._move(tx, order, OrderStatus.CANCELED, by=by, reason=reason)
        await self._publish(change)
        return order

    async def _move(
        self, tx: AsyncConnection, order: Order, to: OrderStatus, *, by: Actor, reason: str | None = None
    ) -> tuple[Order, Change]:
        check_move(order.status, to, paid_in_full=order.paid_in_full)
        now = self.clock.now()
        if to in PAYMENT_ALTERING and not by.is_dojo:
            order.check_unlocked(now)
        kind = ChangeKind.CANCELED if to is OrderStatus.CANCELED else ChangeKind.STATUS_CHANGED
        detail: dict[str, Any] = {"reason": reason} if reason else {}
        todo = [line.line for line in order.prep if not line.done]
        if marks_every_item_made(to) and todo:
            await prep_rows.set_done(tx, order.id, todo, at=now)
            order = dataclasses.replace(order, prep=mark(order.prep, todo, done_at=now))
            detail["done"] = todo
        entry = _moved(order.id, now, by, order.status, to, kind=kind, detail=detail or None)
        return await self._record(tx, order, kind, [entry], now=now, status=to)


def _on(stage: Stage) -> list[Any]:
    return list(_screen(stage).where)


def _screen(stage: Stage) -> search.OnScreen:
    return search.on_screen(stage.statuses, stage.collection_only, stage.station)


def _moved(
    order_id: str,
    now: datetime,
    by: Actor,
    source: OrderStatus,
    target: OrderStatus,
    *,
    kind: ChangeKind = ChangeKind.STATUS_CHANGED,
    detail: dict[str, Any] | None = None,
) -> HistoryEntry:
    return HistoryEntry(order_id, now, kind, by, from_status=source, to_status=target, detail=detail)


# RFC 4648's base 32, its 32 characters reordered into ASCII order (digits first), so ids
# compare as their numbers do; two characters (ten bits) at a time.
_DIGITS: Final = "234567abcdefghijklmnopqrstuvwxyz"
_PAIRS: Final = tuple(high + low for high in _DIGITS for low in _DIGITS)
_SHIFTS: Final = tuple(range(90, -1, -10))


def new_order_id() -> str:
    """24 characters (what a Dojo terminal shows): `ord_` and 100 bits in base 32, the first 50
    the wall clock in milliseconds and the rest random, so ids made later sort later. Each new
    order's rows then go at the end of every index keyed by its id (orders, items, payments,
    history) instead of on a random page of each: fewer pages written per commit, and fewer
    read back in a database bigger than its cache. 50 random bits a millisecond still leave an
    id unguessable and a clash out of reach."""
    number = (time.time_ns() // 1_000_000 % (1 << 50)) << 50 | secrets.randbits(50)
    return "ord_" + "".join([_PAIRS[number >> shift & 1023] for shift in _SHIFTS])
