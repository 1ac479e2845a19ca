"""The order lifecycle as data: Dojo's ten statuses and the one table of allowed moves.

Every door reads this module: the REST shim's cancel, GraphQL's moveOrder and the
KDS buttons all ask `check_move`, so none of them can offer a move the table forbids.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from server.errors import Conflict, InvalidMove


class OrderStatus(StrEnum):
    NEW = "New"
    SUBMITTED = "Submitted"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    PREPARING = "Preparing"
    PREPARED = "Prepared"
    READY = "Ready"
    FINALIZED = "Finalized"
    CANCELED = "Canceled"
    FAILED = "Failed"


S = OrderStatus
_STOP: Final = frozenset({S.CANCELED, S.FAILED})

# Forward moves, the recall one step back for the kitchen, and a stop (cancel or fail) from
# anywhere that is not terminal. Finalized, Canceled and Failed are terminal.
NEXT: Final[Mapping[OrderStatus, frozenset[OrderStatus]]] = {
    S.NEW: frozenset({S.SUBMITTED, S.CONFIRMED, S.ACCEPTED}) | _STOP,
    S.SUBMITTED: frozenset({S.CONFIRMED, S.ACCEPTED}) | _STOP,
    S.CONFIRMED: frozenset({S.ACCEPTED}) | _STOP,
    S.ACCEPTED: frozenset({S.PREPARING}) | _STOP,
    S.PREPARING: frozenset({S.PREPARED, S.ACCEPTED}) | _STOP,
    S.PREPARED: frozenset({S.READY, S.PREPARING}) | _STOP,
    S.READY: frozenset({S.FINALIZED, S.PREPARED}) | _STOP,
    S.FINALIZED: frozenset(),
    S.CANCELED: frozenset(),
    S.FAILED: frozenset(),
}

TERMINAL: Final = frozenset(status for status, moves in NEXT.items() if not moves)
ACTIVE: Final = frozenset(OrderStatus) - TERMINAL

# What a kitchen "bump" does from each status, and what "recall" undoes.
BUMP: Final[Mapping[OrderStatus, OrderStatus]] = {
    S.NEW: S.ACCEPTED,
    S.SUBMITTED: S.ACCEPTED,
    S.CONFIRMED: S.ACCEPTED,
    S.ACCEPTED: S.PREPARING,
    S.PREPARING: S.PREPARED,
    S.PREPARED: S.READY,
    S.READY: S.FINALIZED,
}
RECALL: Final[Mapping[OrderStatus, OrderStatus]] = {
    S.PREPARING: S.ACCEPTED,
    S.PREPARED: S.PREPARING,
    S.READY: S.PREPARED,
}

# Dojo may cancel only before the kitchen has accepted the order.
DOJO_CANCELLABLE: Final = frozenset({S.NEW, S.SUBMITTED, S.CONFIRMED})

# Moves that change what is being paid: refused to staff while Dojo's lock holds the order.
# (The kitchen's own moves are not among them: cooking goes on while a table pays.)
PAYMENT_ALTERING: Final = frozenset({S.CANCELED, S.FAILED})


def check_move(current: OrderStatus, target: OrderStatus, *, paid_in_full: bool) -> None:
    """Raise unless the table allows `current -> target` (Finalized also needs the bill paid)."""
    allowed = NEXT[current]
    if target not in allowed:
        raise InvalidMove(current, target, sorted(allowed, key=_rank))
    if target is S.FINALIZED and not paid_in_full:
        raise Conflict("an order is Finalized only once it is paid in full")


def check_dojo_cancel(current: OrderStatus) -> None:
    if current not in DOJO_CANCELLABLE:
        raise Conflict(f"order is {current.value}; Dojo may cancel only a New, Submitted or Confirmed order")


def _rank(status: OrderStatus) -> int:
    return list(OrderStatus).index(status)
