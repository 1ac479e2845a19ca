"""Our own GraphQL scalars, and the map that puts them in the schema.

`MinorUnits` is every money `value`. GraphQL's `Int` is 32-bit, while the REST door takes
amounts up to `server.money.MAX_VALUE` (10^13): one order of 3,000,000,000 minor units turned
every staff client's `activeOrders` into `data: null`. It is a JSON integer, as Int is (and
well inside what a JavaScript number holds exactly), and both doors take the same range.
"""

from __future__ import annotations

from typing import Any, Final, NewType

import strawberry
from graphql import GraphQLError, IntValueNode, ValueNode
from strawberry.types.scalar import ScalarDefinition

from server.money import MAX_VALUE

MinorUnits = NewType("MinorUnits", int)
OUT_OF_RANGE: Final = f"an amount is a whole number of minor units, from 0 to {MAX_VALUE}"


def _minor_units(value: Any) -> int:
    if type(value) is not int or not 0 <= value <= MAX_VALUE:  # not a bool, a float or a string
        raise GraphQLError(OUT_OF_RANGE)
    return value


def _literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> int:
    if not isinstance(node, IntValueNode):
        raise GraphQLError(OUT_OF_RANGE)
    return _minor_units(int(node.value))


SCALARS: Final[dict[object, ScalarDefinition]] = {
    MinorUnits: strawberry.scalar(
        name="MinorUnits",
        description="An amount in the currency's minor unit (1050 is £10.50): "
        f"a JSON integer from 0 to {MAX_VALUE}.",
        serialize=int,
        parse_value=_minor_units,
        parse_literal=_literal,
    ),
}
