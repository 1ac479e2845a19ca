"""A venue's prep stations and routing rules as a TOML file: what `orderpass stations load`
reads to seed a new venue, and what `orderpass stations show` prints (so show, edit, load).

    [[station]]
    id = "grill"
    name = "Grill"
    plu = ["BUR-DBL"]              # exact PLUs
    plu_prefix = ["BUR", "STK"]    # PLUs starting with these
    names = ["*burger*"]           # shell-style patterns on the item's name, ignoring case

Stations appear on screens in file order; exactly one has `default = true` and takes whatever
no rule routes. Pure functions: the file's text in, a checked `Routing` out, and back.
"""

from __future__ import annotations

import json
import tomllib
from typing import Any, Final

from server.errors import InvalidRequest
from server.stations.routing import Routing, Rule, RuleKind, Station

# The file's key for each kind of rule, in the order a station lists them.
KEYS: Final = {RuleKind.PLU: "plu", RuleKind.PLU_PREFIX: "plu_prefix", RuleKind.NAME: "names"}
STATION_KEYS: Final = {"id", "name", "default", *KEYS.values()}


def parse(text: str) -> Routing:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidRequest(f"not a TOML file: {exc}") from exc
    unknown = set(data) - {"station"}
    if unknown:
        raise InvalidRequest(f"unknown top-level key(s) {', '.join(sorted(unknown))}: only [[station]]")
    entries = data.get("station")
    if not isinstance(entries, list) or not entries:
        raise InvalidRequest("the file lists no [[station]]")
    stations: list[Station] = []
    rules: list[Rule] = []
    for position, entry in enumerate(entries):
        station, station_rules = _station(entry, position)
        stations.append(station)
        rules.extend(station_rules)
    return Routing(tuple(stations), tuple(rules))  # checks ids, the one default and every rule's station


def render(routing: Routing) -> str:
    blocks = []
    for station in sorted(routing.stations, key=lambda s: (s.position, s.id)):
        lines = ["[[station]]", f"id = {_string(station.id)}", f"name = {_string(station.name)}"]
        if station.is_default:
            lines.append("default = true")
        mine = sorted((r for r in routing.rules if r.station_id == station.id), key=lambda r: r.position)
        for kind, key in KEYS.items():
            patterns = [rule.pattern for rule in mine if rule.kind is kind]
            if patterns:
                lines.append(f"{key} = [{', '.join(map(_string, patterns))}]")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _station(entry: Any, position: int) -> tuple[Station, list[Rule]]:
    where = f"station {position + 1}"
    if not isinstance(entry, dict):
        raise InvalidRequest(f"{where}: a [[station]] table")
    unknown = set(entry) - STATION_KEYS
    if unknown:
        raise InvalidRequest(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}; one of {', '.join(sorted(STATION_KEYS))}"
        )
    station_id, name = entry.get("id"), entry.get("name", entry.get("id"))
    if not isinstance(station_id, str) or not isinstance(name, str):
        raise InvalidRequest(f"{where}: `id` (and `name`) are strings", field="id")
    default = entry.get("default", False)
    if not isinstance(default, bool):
        raise InvalidRequest(f"{where}: `default` is true or false", field="isDefault")
    rules: list[Rule] = []
    for kind, key in KEYS.items():
        patterns = entry.get(key, [])
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            raise InvalidRequest(f"{station_id}: `{key}` is a list of strings", field=key)
        rules.extend(Rule(station_id, kind, pattern, len(rules) + n) for n, pattern in enumerate(patterns))
    return Station(station_id, name, position, default), rules


def _string(value: str) -> str:
    """A TOML basic string. JSON's escapes are TOML's, but not its surrogate pairs (so non-ASCII
    stays as itself) and JSON leaves DEL bare, which TOML refuses."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
