"""Resolving unknown payments: an event named a payment intent no order holds, so ask Dojo.

`GET /payment-intents/{id}` names our order in `orderDetails.externalId`; the payment is then
attached to it and takes the status the events gave it. What cannot be resolved yet stays in
`unmatchedPayments` and is asked about again with backoff (30 s, doubling, up to an hour).
An id Dojo could not have issued (`..`, `a/b`: see server/dojo/paths.py) is kept there too,
for an operator to see, but never looked up: it is logged once and never due again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Final

from server.actors import POS
from server.background import Worker
from server.clock import Clock
from server.dojo.client import DojoApi
from server.dojo.paths import UnsafeId
from server.errors import OrderpassError
from server.money import Money
from server.payments.cashier import Cashier
from server.text import shown

log = logging.getLogger("orderpass.dojo.resolver")
FIRST_RETRY: Final = 30.0
LAST_RETRY: Final = 3600.0
NEVER: Final = timedelta(days=365 * 100)  # "not again", as a moment every database can hold
NOT_ASKED: Final = "not an id Dojo issues; kept, and never looked up"


def retry_after(attempts: int) -> timedelta:
    return timedelta(seconds=min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LAST_RETRY))


class Resolver(Worker):
    name = "orderpass-dojo-resolver"

    def __init__(self, *, cashier: Cashier, dojo: DojoApi, clock: Clock, poll_seconds: float = 2.0) -> None:
        self.cashier = cashier
        self.dojo = dojo
        self.clock = clock
        self.poll_seconds = poll_seconds

    async def resolve_due(self) -> int:
        """Ask Dojo about every unmatched payment that is due; how many were attached."""
        resolved = 0
        for intent in await self.cashier.lookups_due():
            resolved += await self._resolve(intent)
        return resolved

    async def _resolve(self, intent: str) -> bool:
        try:
            found = await self.dojo.payment_intent(intent)
            if found is None:
                raise LookupError("Dojo has no such payment intent")
            if not found.external_order_id:
                raise LookupError("the payment intent names no POS order (orderDetails.externalId)")
            if not found.amount_currency:
                raise LookupError("the payment intent has no amount")
            await self.cashier.attach_resolved(
                found.external_order_id,
                payment_intent_id=intent,
                paid_amount=Money.of(found.amount_value, found.amount_currency),
                tips_amount=Money.of(found.tips_value, found.amount_currency),
                by=POS,
            )
        except UnsafeId:
            await self.cashier.lookup_failed(intent, error=NOT_ASKED, retry_after=lambda _: NEVER)
            log.warning("payment intent %s is %s", shown(intent), NOT_ASKED)
            return False
        except (OrderpassError, LookupError, OSError) as exc:
            reason = exc.message if isinstance(exc, OrderpassError) else str(exc)
            attempts = await self.cashier.lookup_failed(intent, error=reason, retry_after=retry_after)
            log.info("payment intent %s is still unmatched (attempt %d): %s", shown(intent), attempts, reason)
            return False
        log.info("payment intent %s resolved to order %s", shown(intent), found.external_order_id)
        return True

    async def run(self, ready: asyncio.Event) -> None:
        ready.set()
        while True:
            try:
                await self.resolve_due()
            except OrderpassError as exc:
                log.warning("could not look for unmatched payments: %s", exc.message)
            except Exception:
                log.exception("the payment resolver failed; it carries on")
            await asyncio.sleep(self.poll_seconds)
