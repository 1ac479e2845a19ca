"""Text no operation may carry: the NUL character (server/text.py says why), checked once for
every operation, on what GraphQL decoded rather than on the bytes it came in. A NUL can be
spelled `\\u{0}`, `\\u{000000}` or `\\u0000` in a string, raw in a block string, or sent in the
variables, over HTTP or a WebSocket; every one of them is refused before anything runs, with
`extensions.code` INVALID_INPUT."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import DocumentNode, GraphQLError, StringValueNode, ValidationRule
from strawberry.extensions import SchemaExtension

from server.text import NUL_REFUSED, has_nul


class NulGuard(SchemaExtension):
    """Adds, to each operation's validation, a rule that also knows its variables."""

    def on_validate(self) -> Iterator[None]:
        # Only while validating: the rule is a class made for this operation (~2 KB), and a
        # subscription's context lives as long as its screen stays subscribed.
        context = self.execution_context
        rules = context.validation_rules
        context.validation_rules = (*rules, _rule(context.variables or {}))
        yield
        context.validation_rules = rules


def _rule(variables: Mapping[str, Any]) -> type[ValidationRule]:
    class NoNul(ValidationRule):
        def enter_document(self, node: DocumentNode, *_: Any) -> None:
            if has_nul(dict(variables)):
                self.refuse()

        def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
            if "\x00" in node.value:  # graphql-core has decoded every escape into `value`
                self.refuse(node)

        def refuse(self, node: StringValueNode | None = None) -> None:
            if not getattr(self, "refused", False):  # one error is enough, however many NULs
                self.refused = True
                self.report_error(GraphQLError(NUL_REFUSED, node, extensions={"code": "INVALID_INPUT"}))

    return NoNul
