"""The service layer for orders: place, read, search, move and cancel.

One async method per use case. Each opens one transaction, checks the rules, writes the
change with its history and change-log rows, commits, then publishes. Both front doors (the
Dojo REST shim and GraphQL) call these methods and nothing below them.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from server.actors import POS, Actor
from server.broker import Broker
from server.changes import Change, ChangeKind
from server.clock import Clock
from server.errors import Conflict, NotFound
from server.history import HistoryEntry
from server.lifecycle import BUMP, PAYMENT_ALTERING, RECALL, OrderStatus, check_dojo_cancel, check_move
from server.order import Order, OrderDraft
from server.paging import Key, Page, PageRequest, SearchFilters, encode, scope_of
from server.payments import Payment, PaymentSource, PaymentStatus
from server.queries import assembly, changes, outbox
from server.queries import orders as order_rows
from server.queries import payments as payment_rows
from server.roles import Permission
from server.service import Service, existing
from server.stats import KitchenStats, kitchen_stats
from server.store import Store

MAX_ACTIVE: Final = 1000  # a kitchen with more open orders than this has other problems


class Orders(Service):
    def __init__(
        self,
        *,
        store: Store,
        broker: Broker,
        clock: Clock,
        dojo_events: timedelta | None = None,
        auto_confirm: bool = False,
    ) -> None:
        super().__init__(store=store, broker=broker, clock=clock, dojo_events=dojo_events)
        self.auto_confirm = auto_confirm

    # -- placing --------------------------------------------------------------------------------

    async def place(self, draft: OrderDraft, *, by: Actor, client_key: str | None = None) -> Order:
        """Place an order. A retry (the same Dojo order id, or the same client key) returns the
        order it already placed; the same id with a different order is a Conflict."""
        by.require(Permission.CREATE)
        fingerprint = hashlib.sha256(draft.model_dump_json().encode()).hexdigest()
        now, order_id = self.clock.now(), new_order_id()
        async with self.store.write() as tx:
            placed = await _placed(tx, draft, client_key, fingerprint)
            if placed is not None:
                return placed
            payments = await _payments_for(tx, draft)
            confirm = self.auto_confirm and by.is_dojo
            status = OrderStatus.CONFIRMED if confirm else OrderStatus.NEW
            inserted = await order_rows.insert_order(
                tx,
                order_id=order_id,
                draft=draft,
                status=status,
                payments=payments,
                fingerprint=fingerprint,
                client_key=client_key,
                now=now,
            )
            if not inserted:  # another process placed it between our check and our insert
                placed = await _placed(tx, draft, client_key, fingerprint)
                if placed is None:
                    raise Conflict("this order is being placed concurrently; retry")
                return placed
            history = [HistoryEntry(order_id, now, ChangeKind.CREATED, by, to_status=OrderStatus.NEW)]
            if confirm:
                history.append(_moved(order_id, now, POS, OrderStatus.NEW, OrderStatus.CONFIRMED))
            await changes.append_history(tx, history)
            await self._owe_dojo(tx, order_id, now=now)
            sequence = await changes.append_change(
                tx, order_id, ChangeKind.CREATED, from_status=None, to_status=status, now=now
            )
        await self._publish(Change(sequence, order_id, ChangeKind.CREATED, None, status))
        return Order(order_id, draft.dojo_order_id, status, 1, draft.content(), tuple(payments), now, now)

    # -- reading --------------------------------------------------------------------------------

    async def get(self, order_id: str) -> Order:
        async with self.store.read() as tx:
            return await existing(tx, order_id)

    async def get_many(self, order_ids: list[str]) -> list[Order]:
        """The orders that exist among these ids, in the order asked."""
        async with self.store.read() as tx:
            return await assembly.load_orders(tx, order_ids)

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
    ) -> Page[Order]:
        scope = scope_of(*dataclasses.astuple(filters))
        page = PageRequest.parse(limit=limit, after=after, before=before, scope=scope)
        async with self.store.read() as tx:
            ids, more = await order_rows.search_ids(
                tx, where=order_rows.filters(filters), after=page.after, before=page.before, limit=page.limit
            )
            orders = await assembly.load_orders(tx, ids)
        if not orders:
            return Page(orders, [], None, None)
        cursors = [encode(Key(o.created_at, o.id), scope=scope) for o in orders]
        more_before = more if page.before else page.after is not None
        more_after = more if not page.before else True
        return Page(orders, cursors, cursors[0] if more_before else None, cursors[-1] if more_after else None)

    async def count(self, filters: SearchFilters) -> int:
        async with self.store.read() as tx:
            return await order_rows.count(tx, order_rows.filters(filters))

    async def active(self) -> list[Order]:
        """Every order that is not terminal, oldest first."""
        async with self.store.read() as tx:
            return await assembly.load_orders(tx, await order_rows.active_ids(tx, limit=MAX_ACTIVE))

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
            orders = await assembly.load_orders(tx, ids)
        recallable = [o for o in orders if o.status is latest[o.id].to_status and o.status in RECALL]
        return recallable[:limit]

    async def owed_to_dojo(self) -> outbox.Depth:
        """POS events written but not yet delivered to Dojo: what an operator watches."""
        async with self.store.read() as tx:
            return await outbox.depth(tx)

    async def stats(self, since: datetime) -> KitchenStats:
        async with self.store.read() as tx:
            counts = await order_rows.status_counts(tx, since=since)
            entries = await changes.history_since(tx, since)
        return kitchen_stats(since=since, counts=counts, entries=entries)

    # -- moving ---------------------------------------------------------------------------------

    async def move(
        self, order_id: str, to: OrderStatus, *, by: Actor, expected: OrderStatus | None = None
    ) -> Order:
        """Move an order as the lifecycle table allows. With `expected`, refuse (Conflict) if the
        order is no longer in the status the caller saw: two cooks bumping at once, one wins."""
        by.require(Permission.CANCEL if to is OrderStatus.CANCELED else Permission.MOVE)
        async with self.store.write() as tx:
            order = await existing(tx, order_id)
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
            order = await existing(tx, order_id)
            if order.status is OrderStatus.CANCELED:
                return order
            if by.is_dojo:
                check_dojo_cancel(order.status)
            order, change = await self._move(tx, order, OrderStatus.CANCELED, by=by, reason=reason)
        await self._publish(change)
        return order

    async def _move(
        self, tx: AsyncSession, order: Order, to: OrderStatus, *, by: Actor, reason: str | None = None
    ) -> tuple[Order, Change]:
        check_move(order.status, to, paid_in_full=order.paid_in_full)
        now = self.clock.now()
        lock = order.lock_at(now)
        if lock is not None and to in PAYMENT_ALTERING and not by.is_dojo:
            raise Conflict(
                f"Dojo is taking payment for order {order.id} ({lock.describe()}); try once it is paid"
            )
        kind = ChangeKind.CANCELED if to is OrderStatus.CANCELED else ChangeKind.STATUS_CHANGED
        entry = _moved(
            order.id, now, by, order.status, to, kind=kind, detail={"reason": reason} if reason else None
        )
        return await self._record(tx, order, kind, [entry], now=now, status=to)


async def _placed(
    tx: AsyncSession, draft: OrderDraft, client_key: str | None, fingerprint: str
) -> Order | None:
    found = await order_rows.find_placed(tx, dojo_order_id=draft.dojo_order_id, client_key=client_key)
    if found is None:
        return None
    order_id, stored = found
    if stored != fingerprint:
        key = f"dojoOrderId {draft.dojo_order_id}" if draft.dojo_order_id else f"client key {client_key}"
        raise Conflict(f"{key} was already used for a different order ({order_id})")
    return await existing(tx, order_id)


async def _payments_for(tx: AsyncSession, draft: OrderDraft) -> list[Payment]:
    """The draft's payments, with any status Dojo's events already told us about them."""
    intent_ids = [payment.payment_intent_id for payment in draft.payments]
    if not intent_ids:
        return []
    if len(set(intent_ids)) != len(intent_ids):
        raise Conflict("the same paymentIntentId appears twice in one order")
    owners = await payment_rows.owners_of(tx, intent_ids)
    if owners:
        intent, owner = next(iter(owners.items()))
        raise Conflict(f"payment intent {intent} already belongs to order {owner}")
    latest = await payment_rows.latest_events(tx, intent_ids)
    return [
        Payment(
            payment_intent_id=given.payment_intent_id,
            paid_amount=given.paid_amount.value,
            tips_amount=given.tips_amount.value if given.tips_amount else 0,
            source=PaymentSource.ORDER,
            status=PaymentStatus(event.payment_status)
            if (event := latest.get(given.payment_intent_id))
            else None,
            status_at=event.created_at if event else None,
        )
        for given in draft.payments
    ]


def _moved(
    order_id: str,
    now: datetime,
    by: Actor,
    source: OrderStatus,
    target: OrderStatus,
    *,
    kind: ChangeKind = ChangeKind.STATUS_CHANGED,
    detail: dict[str, str] | None = None,
) -> HistoryEntry:
    return HistoryEntry(order_id, now, kind, by, from_status=source, to_status=target, detail=detail)


def new_order_id() -> str:
    """24 characters (what a Dojo terminal shows): `ord_` and 100 random bits in base 32."""
    return "ord_" + base64.b32encode(secrets.token_bytes(15)).decode()[:20].lower()
