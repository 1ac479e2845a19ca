"""No actor, no GraphQL: defence in depth behind the door's token gate (schema/view.py).

Two checks, each enough on its own, so that a future bug in the gate leaks nothing:
- `StaffOnly` refuses an operation without an actor before it is validated or executed, so
  not even the schema is shown (introspection runs no resolver of ours);
- every root field of Query, Mutation and Subscription carries `IsStaff`, added by `guard` when
  the schema is built, so a field added later is guarded without anyone remembering to.

Roles (what a viewer or a kitchen token may change) are the service layer's to decide.
And subscriptions run over the WebSocket only: asked over plain HTTP, they get a clear error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types.graphql import OperationType

from server.errors import Unauthorized

REFUSED: Final = "a valid staff bearer token is required"


def unauthorized() -> GraphQLError:
    return GraphQLError(REFUSED, extensions={"code": Unauthorized.code})


class StaffOnly(SchemaExtension):
    def on_validate(self) -> Iterator[None]:
        if getattr(self.execution_context.context, "actor", None) is None:
            self.execution_context.pre_execution_errors = [unauthorized()]
        yield


class SocketSubscriptions(SchemaExtension):
    def on_validate(self) -> Iterator[None]:
        context = self.execution_context.context
        if not getattr(context, "over_socket", True) and _operation(self) is OperationType.SUBSCRIPTION:
            message = "subscriptions run over the WebSocket at /graphql (graphql-transport-ws), not HTTP"
            self.execution_context.pre_execution_errors = [
                GraphQLError(message, extensions={"code": "INVALID_INPUT"})
            ]
        yield


def _operation(extension: SchemaExtension) -> OperationType | None:
    try:
        return extension.execution_context.operation_type
    except RuntimeError:  # no such operation in the document: validation says so
        return None


class IsStaff(BasePermission):
    message = REFUSED
    error_extensions = {"code": Unauthorized.code}

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return getattr(info.context, "actor", None) is not None


def guard(*root_types: type) -> None:
    """Put `IsStaff` on every field of these root types (once, however often a schema is built)."""
    for root in root_types:
        for field in root.__strawberry_definition__.fields:  # type: ignore[attr-defined]
            if not any(isinstance(extension, _Guard) for extension in field.extensions):
                field.extensions.append(_Guard([IsStaff()], use_directives=False))


def guarded(field: Any) -> bool:
    return any(isinstance(extension, _Guard) for extension in field.extensions)


class _Guard(PermissionExtension):
    """The permission extension `guard` adds, told apart from any a field declares itself."""
