"""The whole order status machine: Dojo's ten statuses, the one table of allowed moves, what a
bump and a recall do, the stages of the pass, and every rule that moves an order because of
something else (a station's bump, an edit, a whole-order move). Nothing outside this module
decides a status.

Every door reads it: the REST shim's cancel, GraphQL's moveOrder and the KDS buttons all ask
`check_move`, so none of them can offer a move the table forbids; the services walk `path`, and
`status_steps` (server/service.py) checks each step against `NEXT` again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
# What a bump button says, by where the bump takes the order: what the cook does, not a status.
BUMP_VERB: Final[Mapping[OrderStatus, str]] = {
    S.ACCEPTED: "Accept",
    S.PREPARING: "Start",
    S.PREPARED: "Done",
    S.READY: "Ready",
    S.FINALIZED: "Hand over",
}

# Dojo may cancel only before the kitchen has accepted the order.
DOJO_CANCELLABLE: Final = frozenset({S.NEW, S.SUBMITTED, S.CONFIRMED})

# Moves that change what is being paid: refused to staff while Dojo's lock holds the order.
# (The kitchen's own moves are not among them: cooking goes on while a table pays.)
PAYMENT_ALTERING: Final = frozenset({S.CANCELED, S.FAILED})

# What an order placed with auto-confirm becomes on arrival (ORDERPASS_AUTO_CONFIRM).
AUTO_CONFIRMED: Final = S.CONFIRMED


@dataclass(frozen=True, slots=True)
class Bump:
    """The bump a screen offers an order: where it goes, what its button says, and, where the
    table would refuse it for now, why (the screen shows that instead of the button)."""

    to: OrderStatus
    verb: str
    refused: str | None = None


def bump_of(current: OrderStatus, *, paid_in_full: bool) -> Bump | None:
    """The bump from `current`, if there is one."""
    target = BUMP.get(current)
    if target is None:
        return None
    refused = "Unpaid: take payment to hand over" if _unpaid(target, paid_in_full=paid_in_full) else None
    return Bump(target, BUMP_VERB[target], refused)


def _unpaid(target: OrderStatus, *, paid_in_full: bool) -> bool:
    """Only an order paid in full is Finalized (handed over)."""
    return target is S.FINALIZED and not paid_in_full


def path(current: OrderStatus, target: OrderStatus) -> tuple[OrderStatus, ...] | None:
    """The steps from `current` to `target` along bumps (forward) or recalls (back), excluding
    `current`; () when already there; None when neither walk reaches it."""
    for walk in (BUMP, RECALL):
        steps, status = [], current
        while status is not target and status in walk:
            status = walk[status]
            steps.append(status)
        if status is target:
            return tuple(steps)
    return None


def _reaching(target: OrderStatus, walk: Mapping[OrderStatus, OrderStatus]) -> frozenset[OrderStatus]:
    return frozenset(s for s in OrderStatus if s is target or _walks_to(s, target, walk))


def _walks_to(status: OrderStatus, target: OrderStatus, walk: Mapping[OrderStatus, OrderStatus]) -> bool:
    while status in walk:
        status = walk[status]
        if status is target:
            return True
    return False


# The stages of the pass. The kitchen works an order until it is Prepared: every status a bump
# carries to Preparing. The expo sends it out: from Prepared until a bump finalizes it.
KITCHEN: Final = _reaching(S.PREPARING, BUMP)
EXPO: Final = _reaching(S.FINALIZED, BUMP) - KITCHEN - {S.FINALIZED}
READY_BOARD: Final = frozenset({S.READY})  # collection orders the customer may pick up
# Nobody has started it yet: a timed order in these may be held off the line until its fire time.
NOT_STARTED: Final = _reaching(S.ACCEPTED, BUMP)

# A station may bring its items back while the order is still being made or waits at the pass.
BRING_BACK: Final = frozenset({S.PREPARING, S.PREPARED})


# -- rules that move an order because of something else ------------------------------------------


def started_by_station(current: OrderStatus, *, all_made: bool) -> tuple[OrderStatus, ...]:
    """A station's first bump starts the order (accepting it first if nobody had): the steps to
    Preparing; and when that bump leaves no item to make, on to Prepared. () if it is there."""
    steps = path(current, S.PREPARING) if current in KITCHEN else None
    if steps is None:
        why = "" if current in TERMINAL else ": its items were sent already"
        raise Conflict(f"the order is {current.value}{why}")
    return steps + ((S.PREPARED,) if all_made else ())


def finished_by_items(current: OrderStatus, *, all_made: bool) -> tuple[OrderStatus, ...]:
    """The last item made or voided finishes a Preparing order: it becomes Prepared."""
    return (S.PREPARED,) if current is S.PREPARING and all_made else ()


def reopened_by_items(current: OrderStatus) -> tuple[OrderStatus, ...]:
    """New work on an order (an item brought back at a station, or added) takes it back to
    Preparing if it had left the kitchen; in the kitchen, it changes no status."""
    return path(current, S.PREPARING) or () if current in EXPO else ()


def ready_mark(current: OrderStatus, target: OrderStatus) -> bool | None:
    """What a move does to the moment an order was made Ready (a ticket's time runs to it): True,
    it is Ready now (stamp it); False, it went back to be made again (a recall, an edit: clear
    it, so the ticket's time runs on to its next Ready); None, keep it (handed over, canceled)."""
    if target is S.READY:
        return True
    return False if current is S.READY and target in ACTIVE else None


def marks_every_item_made(target: OrderStatus) -> bool:
    """A whole-order move to Prepared (a one-board kitchen, or the expo) marks every item made,
    so no station's screen keeps a ticket the pass has already sent on."""
    return target is S.PREPARED


def check_move(current: OrderStatus, target: OrderStatus, *, paid_in_full: bool) -> None:
    """Raise unless the table allows `current -> target` (Finalized also needs the bill paid)."""
    allowed = NEXT[current]
    if target not in allowed:
        raise InvalidMove(current, target, sorted(allowed, key=_rank))
    if _unpaid(target, paid_in_full=paid_in_full):
        raise Conflict("an order is Finalized only once it is paid in full")


def check_dojo_cancel(current: OrderStatus) -> None:
    if current not in DOJO_CANCELLABLE:
        raise Conflict(f"order is {current.value}; Dojo may cancel only {_either(DOJO_CANCELLABLE)} order")


def _either(statuses: frozenset[OrderStatus]) -> str:
    """ "a New, Submitted or Confirmed": the statuses in lifecycle order, as a sentence says them."""
    names = [status.value for status in sorted(statuses, key=_rank)]
    listed = ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
    return ("an " if listed[0] in "AEIOU" else "a ") + listed


def _rank(status: OrderStatus) -> int:
    return list(OrderStatus).index(status)
