"""Prep stations over GraphQL: the venue's stations and routing rules (admin), and the pass
(a station bumps its items of a ticket, or brings them back)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated

import strawberry

from schema.context import Info
from schema.enums import described
from schema.errors import Conflict, Forbidden, InvalidInput, InvalidMove, NotFound, outcome
from schema.mutations import OrderId, OrderResult, TapId, rendered
from server.stations.routing import Routing, Rule, RuleKind, Station

described(
    RuleKind,
    {
        RuleKind.PLU: "The item's PLU is the pattern, exactly.",
        RuleKind.PLU_PREFIX: "The item's PLU starts with the pattern.",
        RuleKind.NAME: "The item's name matches the pattern, shell-style (`*burger*`), ignoring case.",
    },
    description="How a routing rule matches an item. The most specific rule wins: an exact PLU, then "
    "the longest PLU prefix, then the first name pattern.",
)


@strawberry.type(name="RoutingRule", description="A rule that routes matching items to its station.")
class RuleNode:
    kind: RuleKind = strawberry.field(description="How it matches an item.")
    pattern: str = strawberry.field(description="What it matches: a PLU, a PLU prefix, or a name pattern.")
    position: int = strawberry.field(
        description="Its place among the station's rules: of two name patterns, the first wins."
    )


@strawberry.type(name="Station", description="A prep station: the items its rules route, or all the rest.")
class StationNode:
    id: str = strawberry.field(
        description="Its id: lowercase letters, digits and dashes (`grill`, `cold-2`)."
    )
    name: str = strawberry.field(description="Its name, for people.")
    position: int = strawberry.field(description="Its place on screens: lower comes first.")
    is_default: bool = strawberry.field(description="Where items no rule routes go.")
    prep_minutes: int | None = strawberry.field(
        description="How long it needs for a timed order: its part fires that long before the order "
        "is due. Null: the venue's (ORDERPASS_PREP_MINUTES)."
    )
    rules: list[RuleNode] = strawberry.field(description="Its routing rules, in order.")


@strawberry.type(description="The venue's stations, each with its rules, as they now stand.")
class Stations:
    stations: list[StationNode] = strawberry.field(description="Every station, in screen order.")


StationsResult = Annotated[
    Stations | NotFound | Conflict | InvalidInput | Forbidden,
    strawberry.union("StationsResult", description="The stations as they now are, or why not."),
]


@strawberry.input(description="A station to add, or an existing one (by id) as it should now be.")
class StationInput:
    id: str = strawberry.field(description="Lowercase letters, digits and dashes: `grill`, `cold-2`.")
    name: str = strawberry.field(description="Its name, for people.")
    position: int = strawberry.field(default=0, description="Its place on screens: lower comes first.")
    is_default: bool = strawberry.field(
        default=False, description="Make it the default station (the old default stops being it)."
    )
    prep_minutes: int | None = strawberry.field(
        default=None,
        description="How long it needs for a timed order, in minutes (0 to 1440); null for the venue's.",
    )


@strawberry.input(description="A routing rule for a station.")
class RuleInput:
    kind: RuleKind = strawberry.field(description="How it matches an item.")
    pattern: str = strawberry.field(description="What it matches: a PLU, a PLU prefix, or a name pattern.")


StationId = Annotated[str, strawberry.argument(description="The station's id.")]
Lines = Annotated[
    list[int] | None,
    strawberry.argument(description="Only these items (Item.line); all of the station's if null."),
]


@strawberry.type
class StationQuery:
    @strawberry.field(description="The venue's prep stations in screen order, each with its rules.")
    async def stations(self, info: Info) -> list[StationNode]:
        return nodes(await info.context.services.prep.routing())


@strawberry.type
class StationMutation:
    @strawberry.mutation(
        description="Add a station, or rename, reorder or make one the default (admin). "
        "Orders placed from now on route by it."
    )
    async def save_station(
        self,
        info: Info,
        input: Annotated[StationInput, strawberry.argument(description="The station as it should be.")],
    ) -> StationsResult:
        station = Station(input.id, input.name, input.position, input.is_default, input.prep_minutes)
        return await _stations(info.context.services.prep.save_station(station, by=info.context.staff))

    @strawberry.mutation(
        description="Remove a station and its rules: not the default, nor one still cooking."
    )
    async def remove_station(self, info: Info, id: StationId) -> StationsResult:
        return await _stations(info.context.services.prep.remove_station(id, by=info.context.staff))

    @strawberry.mutation(
        description="This station's routing rules become exactly these, in this order (admin). "
        "An exact PLU beats a longer PLU prefix beats a shorter one beats a name pattern."
    )
    async def set_routing_rules(
        self,
        info: Info,
        station: StationId,
        rules: Annotated[
            list[RuleInput], strawberry.argument(description="Every rule the station is to have, in order.")
        ],
    ) -> StationsResult:
        domain = [Rule(station, rule.kind, rule.pattern, n) for n, rule in enumerate(rules)]
        return await _stations(info.context.services.prep.set_rules(station, domain, by=info.context.staff))

    @strawberry.mutation(
        description="A station's items of an order are done: all of its part, or just `lines` "
        "(Item.line). The first bump starts the order Preparing; the last makes it Prepared."
    )
    async def bump_station(
        self, info: Info, order_id: OrderId, station: StationId, lines: Lines = None, tap_id: TapId = None
    ) -> OrderResult:
        prep = info.context.services.prep
        bumped = prep.bump(str(order_id), station, lines=lines, by=info.context.staff, tap=tap_id)
        return await rendered(bumped)

    @strawberry.mutation(
        description="Undo a station's bump (all of its part, or `lines`): a Prepared order reopens."
    )
    async def bring_back_station(
        self, info: Info, order_id: OrderId, station: StationId, lines: Lines = None, tap_id: TapId = None
    ) -> OrderResult:
        prep = info.context.services.prep
        brought = prep.bring_back(str(order_id), station, lines=lines, by=info.context.staff, tap=tap_id)
        return await rendered(brought)


def nodes(routing: Routing) -> list[StationNode]:
    return [
        StationNode(
            id=station.id,
            name=station.name,
            position=station.position,
            is_default=station.is_default,
            prep_minutes=station.prep_minutes,
            rules=[
                RuleNode(kind=rule.kind, pattern=rule.pattern, position=rule.position)
                for rule in sorted(routing.rules, key=lambda r: r.position)
                if rule.station_id == station.id
            ],
        )
        for station in sorted(routing.stations, key=lambda s: (s.position, s.id))
    ]


async def _stations(call: Awaitable[Routing]) -> StationsResult:
    result = await outcome(call)
    assert not isinstance(result, InvalidMove), "stations change no order's status"
    return Stations(stations=nodes(result)) if isinstance(result, Routing) else result
