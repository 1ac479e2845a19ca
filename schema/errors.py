"""Expected failures as GraphQL types: every mutation's result union draws from these, and
`outcome` is the one place our error tree is translated for this door."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from server import errors
from server.lifecycle import OrderStatus
from server.logs import trace_id

T = TypeVar("T")
log = logging.getLogger("orderpass.graphql")


@strawberry.interface(description="An expected failure: what went wrong, in words.")
class Problem:
    message: str


@strawberry.type
class NotFound(Problem):
    pass


@strawberry.type
class Conflict(Problem):
    pass


@strawberry.type
class InvalidMove(Problem):
    from_: OrderStatus = strawberry.field(name="from")
    to: OrderStatus
    allowed: list[OrderStatus]


@strawberry.type
class InvalidInput(Problem):
    field: str | None


@strawberry.type
class Forbidden(Problem):
    pass


Failure = NotFound | Conflict | InvalidMove | InvalidInput | Forbidden


def failure(exc: errors.OrderpassError) -> Failure:
    if isinstance(exc, errors.InvalidMove):
        return InvalidMove(message=exc.message, from_=exc.current, to=exc.target, allowed=list(exc.allowed))
    if isinstance(exc, errors.InvalidRequest):
        return InvalidInput(message=exc.message, field=exc.field)
    if isinstance(exc, errors.NotFound):
        return NotFound(message=exc.message)
    if isinstance(exc, errors.Forbidden):
        return Forbidden(message=exc.message)
    if isinstance(exc, errors.Conflict):
        return Conflict(message=exc.message)
    raise exc  # Unavailable and the rest are not a caller's mistake: they surface as errors


async def outcome(call: Awaitable[T]) -> T | Failure:
    try:
        return await call
    except (errors.NotFound, errors.InvalidRequest, errors.Forbidden, errors.Conflict) as exc:
        return failure(exc)


class ErrorPolicy(MaskErrors):
    """Errors that reach `errors` (not a result union): ours keep their message and gain a
    stable `code`; anything else is logged with its traceback and masked."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_unexpected, error_message="Unexpected error.")

    def _process_errors(self, found: list[GraphQLError]) -> list[GraphQLError]:
        processed = []
        for error in found:
            original = error.original_error
            if isinstance(original, errors.OrderpassError):
                error.extensions = {**(error.extensions or {}), "code": original.code}
                processed.append(error)
            elif self.should_mask_error(error):
                log.error("unexpected error in GraphQL %s", error.path, exc_info=original)
                masked = self.anonymise_error(error)
                masked.extensions = {"code": "INTERNAL", "traceId": trace_id.get()}
                processed.append(masked)
            else:
                processed.append(error)
        return processed


def _unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)
