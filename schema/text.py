"""Text no operation may carry: the NUL character (server/text.py says why), checked once for
every operation, on what GraphQL decoded rather than on the bytes it came in. A NUL can be
spelled `\\u{0}`, `\\u{000000}` or `\\u0000` in a string, raw in a block string, or sent in the
variables, over HTTP or a WebSocket; every one of them is refused before anything runs, with
`extensions.code` INVALID_INPUT (schema/validation.py runs both checks)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import BREAK, GraphQLError, StringValueNode, ValidationRule

from server.text import NUL_REFUSED, has_nul


class NoNulText(ValidationRule):
    """A NUL in any string the document spells out (one error is enough, however many)."""

    def enter_string_value(self, node: StringValueNode, *_: Any) -> Any:
        if "\x00" in node.value:  # graphql-core has decoded every escape into `value`
            self.report_error(refused(node))
            return BREAK
        return None


def nul_in_variables(variables: Mapping[str, Any]) -> GraphQLError | None:
    return refused() if has_nul(dict(variables)) else None


def refused(node: StringValueNode | None = None) -> GraphQLError:
    return GraphQLError(NUL_REFUSED, node, extensions={"code": "INVALID_INPUT"})
