"""The one exception tree every use case raises; each front door translates it once.

    OrderpassError                 code            REST (EPOSError)
    ├── NotFound                   NOT_FOUND       404 NotFound
    ├── InvalidRequest             INVALID_INPUT   400 InvalidRequest
    │   └── PayloadTooLarge        TOO_LARGE       413 InvalidRequest
    ├── Unauthorized               UNAUTHORIZED    401 InvalidRequest
    ├── Forbidden                  FORBIDDEN       403 InvalidRequest
    ├── Conflict                   CONFLICT        409 Conflict
    │   ├── InvalidMove            INVALID_MOVE    409 Conflict
    │   └── OrderingPaused         ORDERING_PAUSED 409 Conflict (the kitchen paused new orders)
    ├── Unavailable                UNAVAILABLE     503 UnexpectedError (+ Retry-After)
    │   └── DojoUnavailable        UNAVAILABLE     (calls to Dojo: server/dojo/client.py)
    └── DojoRefused                DOJO_REFUSED    (Dojo answered a 4xx retrying will not change)

Anything else is a bug: 500 UnexpectedError, logged with its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from pydantic import ValidationError
from pydantic_core import ErrorDetails

if TYPE_CHECKING:
    from server.lifecycle import OrderStatus


class OrderpassError(Exception):
    code: ClassVar[str] = "ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(OrderpassError):
    code = "NOT_FOUND"


class InvalidRequest(OrderpassError):
    code = "INVALID_INPUT"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PayloadTooLarge(InvalidRequest):
    code = "TOO_LARGE"


class Unauthorized(OrderpassError):
    code = "UNAUTHORIZED"


class Forbidden(OrderpassError):
    code = "FORBIDDEN"


class Conflict(OrderpassError):
    code = "CONFLICT"


class InvalidMove(Conflict):
    code = "INVALID_MOVE"

    def __init__(self, current: OrderStatus, target: OrderStatus, allowed: Iterable[OrderStatus]) -> None:
        self.current = current
        self.target = target
        self.allowed = tuple(allowed)
        names = ", ".join(status.value for status in self.allowed) or "nothing (terminal)"
        super().__init__(f"cannot move an order from {current.value} to {target.value}; allowed: {names}")


class OrderingPaused(Conflict):
    """A Dojo product's new orders are paused (server/ordering/): said in words a customer reads."""

    code = "ORDERING_PAUSED"

    def __init__(self, message: str, *, until: datetime | None) -> None:
        super().__init__(message)
        self.until = until  # None: until someone resumes ordering


class Unavailable(OrderpassError):
    """The database is unreachable or busy beyond its timeout; the client should retry."""

    code = "UNAVAILABLE"
    retry_after_seconds = 1


def invalid(exc: ValidationError) -> InvalidRequest:
    """A parse failure from either door, as one InvalidRequest naming the first bad field."""
    first = exc.errors(include_url=False)[0]
    return InvalidRequest(describe(exc), field=_path(first["loc"]) or None)


def describe(exc: ValidationError) -> str:
    return "; ".join(
        f"{_path(error['loc'])}: {_message(error)}" if error["loc"] else _message(error)
        for error in exc.errors(include_url=False)
    )


def _message(error: ErrorDetails) -> str:
    """pydantic's words; for a null, also that an optional field is left out instead."""
    if error.get("input", ...) is None:
        return f"{error['msg']}, not null (an optional field is left out instead)"
    return error["msg"]


def _path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)
