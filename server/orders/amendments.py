"""The service layer for changing what a placed order holds: items added after it was fired
(another round of drinks, a forgotten side) and items voided (a dish the kitchen cannot make,
a change of mind). Dojo's contract has no such call, so these come from staff, over GraphQL.

An added item is routed to its station as it arrives and shows on that station's ticket as a
change; a voided one leaves the bill and shows struck through. The total moves with them (the
items' prices; Dojo's discount and tax lines stay as Dojo sent them), Dojo is told the order
changed, and the status follows through the lifecycle table: new work takes a Prepared or Ready
order back to Preparing, and voiding the last item still to make finishes it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from server.actors import POS, Actor
from server.changes.model import Change, ChangeKind, HistoryEntry
from server.errors import Conflict, InvalidRequest
from server.lifecycle import TERMINAL, OrderStatus, finished_by_items, reopened_by_items
from server.money import MAX_VALUE, Money
from server.orders import rows as order_rows
from server.orders.model import Order, OrderItem, VoidedItem, item_amounts
from server.orders.rows import to_change
from server.service import Service, status_steps
from server.staff.roles import Permission
from server.stations import rows as prep_rows
from server.stations.routing import PrepLine

MAX_ADDED: Final = 100


class Amendments(Service):
    async def add_items(
        self, order_id: str, items: Sequence[OrderItem], *, by: Actor, client_key: str | None = None
    ) -> Order:
        """Add items to an open order. A retry with the same `client_key` adds nothing again."""
        by.require(Permission.CREATE)
        if not 0 < len(items) <= MAX_ADDED:
            raise InvalidRequest(f"add 1 to {MAX_ADDED} items at a time", field="items")
        async with self.store.write() as tx:
            order = await to_change(tx, order_id)
            now = self.clock.now()
            if client_key is not None and not await order_rows.claim_addition(
                tx, order_id, client_key, now=now
            ):
                return order  # a retry: the first call added them (a refused call claimed nothing)
            self._check_open(order, now)
            order.check_currency((m for item in items for m in item_amounts(item)), field="items")
            total = order.content.total_amount.value + sum(item.line_total() for item in items)
            if total > MAX_VALUE:
                raise InvalidRequest(f"the order would cost more than the largest amount, {MAX_VALUE}")
            routing = await prep_rows.routing(tx)
            first = await order_rows.next_line(tx, order_id)
            prep = routing.route_items(items, at=now, first_line=first)
            await order_rows.insert_items(tx, order_id, items, prep)
            content = order.content.model_copy(
                update={
                    "items": (*order.content.items, *items),
                    "total_amount": Money.of(total, order.currency),
                }
            )
            changed = dataclasses.replace(order, content=content, prep=(*order.prep, *prep))
            detail: dict[str, Any] = {"added": [_described(i, p) for i, p in zip(items, prep, strict=True)]}
            if client_key is not None:
                detail["key"] = client_key
            path = reopened_by_items(order.status)
            order, change = await self._amend(tx, changed, path, total, detail=detail, by=by, now=now)
        await self._publish(change)
        return order

    async def void_items(
        self, order_id: str, lines: Sequence[int], *, by: Actor, reason: str | None = None
    ) -> Order:
        """Take items (by line) off an open order; voiding one already voided changes nothing."""
        by.require(Permission.CANCEL)
        if not lines:
            raise InvalidRequest("name the lines to void", field="lines")
        async with self.store.write() as tx:
            order = await to_change(tx, order_id)
            now = self.clock.now()
            self._check_open(order, now)
            live = {line.line: (item, line) for item, line in order.lines() if line is not None}
            already = {voided.line for voided in order.voided}
            strangers = sorted(set(lines) - set(live) - already)
            if strangers:
                raise InvalidRequest(
                    f"order {order_id} has no line {', '.join(map(str, strangers))}", field="lines"
                )
            chosen = [n for n in dict.fromkeys(lines) if n in live]
            if not chosen:
                return order
            if len(chosen) == len(live):
                raise Conflict("that would void every item: cancel the order instead")
            total = order.content.total_amount.value - sum(live[n][0].line_total() for n in chosen)
            if order.paid_amount > max(total, 0):
                raise Conflict(
                    f"order {order_id} is paid {order.paid_amount}; without these items it costs {total}: "
                    "refund the difference first"
                )
            await order_rows.void_lines(tx, order_id, chosen, at=now, reason=reason)
            keep = [(item, line) for item, line in order.lines() if line is None or line.line not in chosen]
            prep = tuple(line for _, line in keep if line is not None)
            content = order.content.model_copy(
                update={
                    "items": tuple(item for item, _ in keep),
                    "total_amount": Money.of(max(total, 0), order.currency),
                }
            )
            voided = tuple(VoidedItem(n, live[n][0], live[n][1].station, now, reason) for n in chosen)
            changed = dataclasses.replace(order, content=content, prep=prep, voided=(*order.voided, *voided))
            detail: dict[str, Any] = {"voided": [_described(*live[n]) for n in chosen]}
            if reason:
                detail["reason"] = reason
            path = finished_by_items(order.status, all_made=all(line.done for line in prep))
            order, change = await self._amend(tx, changed, path, max(total, 0), detail=detail, by=by, now=now)
        await self._publish(change)
        return order

    def _check_open(self, order: Order, now: datetime) -> None:
        if order.status in TERMINAL:
            raise Conflict(f"order {order.id} is {order.status.value}: its items can no longer change")
        order.check_unlocked(now)

    async def _amend(
        self,
        tx: AsyncConnection,
        order: Order,
        path: Sequence[OrderStatus],
        total: int,
        *,
        detail: dict[str, Any],
        by: Actor,
        now: datetime,
    ) -> tuple[Order, Change]:
        entries = [HistoryEntry(order.id, now, ChangeKind.ITEMS_CHANGED, by, detail=detail)]
        entries += status_steps(order, path, now=now, actor=lambda step: POS)  # the pass follows the items
        return await self._record(
            tx,
            order,
            ChangeKind.ITEMS_CHANGED,
            entries,
            now=now,
            status=path[-1] if path else None,
            total_amount=total,
        )


def _described(item: OrderItem, line: PrepLine | None) -> dict[str, Any]:
    return {
        "line": line.line if line else None,
        "name": item.name,
        "quantity": item.quantity,
        "station": line.station if line else None,
    }
