"""Expected failures as GraphQL types: every mutation's result union draws from these, and
`outcome` is the one place our error tree is translated for this door. What reaches `errors`
instead is coded and masked by `ErrorPolicy`, and logged by `Schema.process_errors`: a
client's mistake at INFO, our bug at ERROR with its traceback."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext

from schema.hooks import Hooks
from server import errors
from server.lifecycle import OrderStatus
from server.logs import trace_id

T = TypeVar("T")
log = logging.getLogger("orderpass.graphql")


@strawberry.interface(description="An expected failure: what went wrong, in words.")
class Problem:
    message: str = strawberry.field(description="What went wrong, for people.")


@strawberry.type(description="What was asked for does not exist: an order, a station.")
class NotFound(Problem):
    pass


@strawberry.type(
    description="The request clashes with how things now stand: an order that moved since it was "
    "read, Dojo's lock during a payment, a key reused for something else."
)
class Conflict(Problem):
    pass


@strawberry.type(description="The lifecycle table does not allow this move from the order's status.")
class InvalidMove(Problem):
    from_: OrderStatus = strawberry.field(name="from", description="The status the order is in.")
    to: OrderStatus = strawberry.field(description="The status asked for.")
    allowed: list[OrderStatus] = strawberry.field(description="Where the order may go from here.")


@strawberry.type(description="Input that breaks a rule: a missing or malformed value, or one out of range.")
class InvalidInput(Problem):
    field: str | None = strawberry.field(
        description="The input at fault, as a dotted path (`items.0.quantity`); null if no one field is."
    )


@strawberry.type(description="The caller's token's role does not allow this.")
class Forbidden(Problem):
    pass


Failure = NotFound | Conflict | InvalidMove | InvalidInput | Forbidden


# The caller's mistakes, most specific first, each as the member of a result union it becomes.
# Unavailable and the rest are not a caller's mistake: they surface as errors (ErrorPolicy).
FAILURES: Final[tuple[tuple[type[errors.OrderpassError], Callable[[Any], Failure]], ...]] = (
    (
        errors.InvalidMove,
        lambda e: InvalidMove(message=e.message, from_=e.current, to=e.target, allowed=list(e.allowed)),
    ),
    (errors.InvalidRequest, lambda e: InvalidInput(message=e.message, field=e.field)),
    (errors.NotFound, lambda e: NotFound(message=e.message)),
    (errors.Forbidden, lambda e: Forbidden(message=e.message)),
    (errors.Conflict, lambda e: Conflict(message=e.message)),
)
EXPECTED: Final = tuple(kind for kind, _ in FAILURES)


def failure(exc: errors.OrderpassError) -> Failure:
    return next(render(exc) for kind, render in FAILURES if isinstance(exc, kind))


async def outcome(call: Awaitable[T]) -> T | Failure:
    try:
        return await call
    except EXPECTED as exc:
        return failure(exc)


class ErrorPolicy(MaskErrors):
    """Errors that reach `errors` (not a result union): ours keep their message and gain a
    stable `code`; anything else is masked (and logged, by `Schema.process_errors`)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_unexpected, error_message="Unexpected error.")

    # Each streamed result is masked before it is sent by Schema's runner (schema/hooks.py), with
    # a plain call, not MaskErrors' generator hook wrapped in a context manager per result.
    on_stream_result = SchemaExtension.on_stream_result  # type: ignore[assignment]

    def before_each_result(self, result: Any) -> None:
        self._stream_result_processed = True  # MaskErrors.on_operation then leaves the last one be
        self._process_stream_result(result)

    def _process_result(self, result: object) -> None:
        # MaskErrors asks isinstance() of a runtime Protocol, for every result every screen gets:
        # ~6% of the server's time with a thousand screens (bench/fanout.py).
        if found := getattr(result, "errors", None):
            result.errors = self._process_errors(found)  # type: ignore[attr-defined]

    def _process_errors(self, found: list[GraphQLError]) -> list[GraphQLError]:
        processed = []
        for error in found:
            original = error.original_error
            if isinstance(original, errors.OrderpassError):
                error.extensions = {**(error.extensions or {}), "code": original.code}
                processed.append(error)
            elif self.should_mask_error(error):
                masked = self.anonymise_error(error)
                masked.extensions = {"code": "INTERNAL", "traceId": trace_id.get()}
                processed.append(masked)
            else:
                processed.append(error)
        return processed


def _unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class Schema(strawberry.Schema):
    """Strawberry logs every error at ERROR with a traceback, a client's typo as loudly as our
    bug. Here what the client got wrong (a document that does not parse or validate, bad
    variables, a refusal of ours) is one INFO line; only a bug is an ERROR, with its traceback.
    This runs before ErrorPolicy masks anything."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            report(error)

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return Hooks(execution_context, extensions)  # each hook looked up once, not per result


def report(error: GraphQLError) -> None:
    original = error.original_error
    code = (error.extensions or {}).get("code") or getattr(original, "code", "INVALID")
    if isinstance(original, errors.Unavailable):
        log.warning("GraphQL operation failed (%s): %s", code, error.message)
    elif isinstance(original, errors.OrderpassError) or not (_unexpected(error) or error.path):
        log.info("GraphQL operation refused (%s): %s", code, error.message)
    else:  # raised by code of ours or a library's while executing: a bug
        log.error("unexpected error in GraphQL %s: %s", error.path, error.message, exc_info=original)
