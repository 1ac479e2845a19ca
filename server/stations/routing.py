"""Prep stations and the rules that route an order's items to them, as data, with no I/O.

A venue names its stations (grill, fry, bar, cold) and routes items to them by rules: an exact
PLU, a PLU prefix, or a pattern on the item's name. The most specific rule wins (an exact PLU,
then the longest prefix, then the first name pattern by position), and anything no rule
matches goes to the default station, so every item lands on exactly one station. Sub-items
(the fries with a burger) go where their item goes: one ticket line, one station.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Final, Protocol

from server.errors import InvalidRequest

STATION_ID: Final = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
MAX_PREP: Final = 24 * 60  # minutes


class RuleKind(StrEnum):
    PLU = "PLU"  # the item's PLU, exactly
    PLU_PREFIX = "PLU_PREFIX"  # the item's PLU starts with the pattern
    NAME = "NAME"  # the item's name matches a shell-style pattern (`*burger*`), ignoring case


@dataclass(frozen=True, slots=True)
class Station:
    id: str
    name: str
    position: int = 0
    is_default: bool = False
    # How long it needs for a timed order's items: its part fires that long before the order is
    # due. None: the venue's (ORDERPASS_PREP_MINUTES).
    prep_minutes: int | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    station_id: str
    kind: RuleKind
    pattern: str
    position: int = 0

    def matches(self, *, plu: str, name: str) -> bool:
        if self.kind is RuleKind.PLU:
            return plu == self.pattern
        if self.kind is RuleKind.PLU_PREFIX:
            return plu.startswith(self.pattern)
        return fnmatchcase(name.casefold(), self.pattern.casefold())

    def specificity(self) -> tuple[int, int, int, str, str]:
        """Lower sorts first: exact PLUs, then longer prefixes, then name patterns by position;
        ties broken by the pattern and station, so the order rules are listed in never matters."""
        rank = {RuleKind.PLU: 0, RuleKind.PLU_PREFIX: 1, RuleKind.NAME: 2}[self.kind]
        length = -len(self.pattern) if self.kind is RuleKind.PLU_PREFIX else 0
        return rank, length, self.position, self.pattern, self.station_id


@dataclass(frozen=True, slots=True)
class Routing:
    """The stations and their rules as they stand; `route` is where an item goes."""

    stations: tuple[Station, ...]
    rules: tuple[Rule, ...]
    # where an item no rule matches goes: found once, as every item of every new order asks
    default_id: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_stations(self.stations)
        known = {station.id for station in self.stations}
        for rule in self.rules:
            if rule.station_id not in known:
                raise InvalidRequest(f"a rule names {rule.station_id!r}: no such station", field="station")
        object.__setattr__(self, "rules", tuple(sorted(self.rules, key=Rule.specificity)))
        object.__setattr__(self, "default_id", self.default.id)

    @property
    def default(self) -> Station:
        return next(station for station in self.stations if station.is_default)

    def route(self, *, plu: str, name: str) -> str:
        for rule in self.rules:
            if rule.matches(plu=plu, name=name):
                return rule.station_id
        return self.default_id

    def station(self, station_id: str) -> Station:
        found = next((station for station in self.stations if station.id == station_id), None)
        if found is None:
            known = ", ".join(station.id for station in self.stations)
            raise InvalidRequest(f"station: no station {station_id!r}; one of {known}", field="station")
        return found

    def route_items(
        self, items: Sequence[ItemLike], *, at: datetime, first_line: int = 1
    ) -> tuple[PrepLine, ...]:
        """Where each item goes, arriving now. A new order's item n is line n (from 1); items added
        later take the lines after every line the order has."""
        return tuple(
            PrepLine(line, self.route(plu=item.plu, name=item.name), at)
            for line, item in enumerate(items, start=first_line)
        )


class ItemLike(Protocol):
    @property
    def plu(self) -> str: ...
    @property
    def name(self) -> str: ...


@dataclass(frozen=True, slots=True)
class PrepLine:
    """One item of an order at its station, by the item's line (a new order's item n is line n)."""

    line: int
    station: str
    routed_at: datetime
    done_at: datetime | None = None

    @property
    def done(self) -> bool:
        return self.done_at is not None


def stations_of(prep: Iterable[PrepLine]) -> list[str]:
    """The stations an order's items went to, each once, in the order of its items."""
    return list(dict.fromkeys(line.station for line in prep))


def mark(prep: Iterable[PrepLine], lines: Iterable[int], *, done_at: datetime | None) -> tuple[PrepLine, ...]:
    chosen = set(lines)
    return tuple(replace(line, done_at=done_at) if line.line in chosen else line for line in prep)


def check_stations(stations: Sequence[Station]) -> None:
    ids = [station.id for station in stations]
    bad = [station_id for station_id in ids if not STATION_ID.match(station_id)]
    if bad:
        raise InvalidRequest(
            f"a station id is up to 32 lowercase letters, digits and dashes: not {', '.join(map(repr, bad))}",
            field="id",
        )
    if len(set(ids)) != len(ids):
        raise InvalidRequest("two stations share an id", field="id")
    if any(not station.name.strip() or len(station.name) > 60 for station in stations):
        raise InvalidRequest("a station's name is 1 to 60 characters", field="name")
    if any(
        station.prep_minutes is not None and not 0 <= station.prep_minutes <= MAX_PREP for station in stations
    ):
        raise InvalidRequest(f"a station's prep time is 0 to {MAX_PREP} minutes", field="prepMinutes")
    defaults = [station.id for station in stations if station.is_default]
    if len(defaults) != 1:
        raise InvalidRequest(
            f"exactly one station is the default (for items no rule routes); got {len(defaults)}",
            field="isDefault",
        )


def check_rules(rules: Iterable[Rule]) -> None:
    for rule in rules:
        if not rule.pattern.strip():
            raise InvalidRequest("a routing rule needs a pattern", field="pattern")
        if len(rule.pattern) > 100:
            raise InvalidRequest("a routing rule's pattern is at most 100 characters", field="pattern")
