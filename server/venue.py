"""A venue as a TOML file: its prep stations and routing rules, and its floor (areas and tables).
`orderpass venue load` reads it to seed a venue, and `orderpass venue show` prints it (so show,
edit, load); `orderpass stations load|show` are the same commands under their first name.

    [[station]]
    id = "grill"
    name = "Grill"
    plu = ["BUR-DBL"]              # exact PLUs
    plu_prefix = ["BUR", "STK"]    # PLUs starting with these
    names = ["*burger*"]           # shell-style patterns on the item's name, ignoring case
    prep_minutes = 20              # a timed order's part here fires this long before it is due

    [[area]]
    id = "downstairs"
    name = "Downstairs"
    waiters = ["becky"]            # waiter ids, as Dojo's requests name them

    [[table]]
    id = "t12"                     # what an order's dineIn.tableId names it by
    name = "Table 12"              # unique within its area; the card machine shows it
    area = "downstairs"
    max_covers = 4
    waiters = ["becky", "sam"]

Stations, areas and each area's tables appear on screens in file order; exactly one station has
`default = true` and takes whatever no rule routes. Pure functions: the file's text in, a
checked `Venue` out, and back.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import tomli_w

from server.errors import InvalidRequest
from server.floor.model import Area, FloorPlan, Table
from server.stations.routing import Routing, Rule, RuleKind, Station

T = TypeVar("T")

# The file's key for each kind of rule, in the order a station lists them.
KEYS: Final = {RuleKind.PLU: "plu", RuleKind.PLU_PREFIX: "plu_prefix", RuleKind.NAME: "names"}
STATION_KEYS: Final = {"id", "name", "default", "prep_minutes", *KEYS.values()}
AREA_KEYS: Final = {"id", "name", "waiters"}
TABLE_KEYS: Final = {"id", "name", "area", "max_covers", "waiters"}
SECTIONS: Final = ("station", "area", "table")


@dataclass(frozen=True, slots=True)
class Venue:
    routing: Routing
    floor: FloorPlan = dataclasses.field(default_factory=FloorPlan)  # a file without areas or tables: empty


def parse(text: str) -> Venue:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidRequest(f"not a TOML file: {exc}") from exc
    unknown = set(data) - set(SECTIONS)
    if unknown:
        raise InvalidRequest(
            f"unknown top-level key(s) {', '.join(sorted(unknown))}: only [[station]], [[area]] and [[table]]"
        )
    entries = data.get("station")
    if not isinstance(entries, list) or not entries:
        raise InvalidRequest("the file lists no [[station]]")
    stations: list[Station] = []
    rules: list[Rule] = []
    for position, entry in enumerate(entries):
        station, station_rules = _station(entry, position)
        stations.append(station)
        rules.extend(station_rules)
    routing = Routing(tuple(stations), tuple(rules))  # checks ids, the one default and every rule's station
    areas = _entries(data, "area", _area)
    tables = _in_file_order(_entries(data, "table", _table))
    return Venue(routing, FloorPlan(areas, tables))  # checks ids, names, covers and every table's area


def render(venue: Venue) -> str:
    """The venue as the file `parse` takes back. Every key and value is written by tomli-w (so
    escaped as TOML's own); each entry under its `[[section]]` header, written here, because
    tomli-w would fold short entries into one inline array."""
    routing, floor = venue.routing, venue.floor.in_screen_order()
    blocks = []
    for station in sorted(routing.stations, key=lambda s: (s.position, s.id)):
        mine = sorted((r for r in routing.rules if r.station_id == station.id), key=lambda r: r.position)
        patterns = {key: [rule.pattern for rule in mine if rule.kind is kind] for kind, key in KEYS.items()}
        entry: dict[str, Any] = {
            "id": station.id,
            "name": station.name,
            "default": station.is_default or None,
        }
        blocks.append(_block("station", **entry, prep_minutes=station.prep_minutes, **patterns))
    for area in floor.areas:
        blocks.append(_block("area", id=area.id, name=area.name, waiters=[*area.waiter_ids]))
    for table in floor.tables:
        where = {"area": table.area_id, "max_covers": table.max_covers, "waiters": [*table.waiter_ids]}
        blocks.append(_block("table", id=table.id, name=table.name, **where))
    return "\n".join(blocks)


def _block(section: str, **entry: Any) -> str:
    """One `[[section]]` entry, without its empty keys (TOML has no null; an empty list is the
    default)."""
    written = {key: value for key, value in entry.items() if value is not None and value != []}
    return f"[[{section}]]\n{tomli_w.dumps(written)}"


def _station(entry: Any, position: int) -> tuple[Station, list[Rule]]:
    where = f"station {position + 1}"
    station_id, name = _identified(entry, where, "station", STATION_KEYS)
    default = entry.get("default", False)
    if not isinstance(default, bool):
        raise InvalidRequest(f"{where}: `default` is true or false", field="isDefault")
    prep = entry.get("prep_minutes")
    if prep is not None and (not isinstance(prep, int) or isinstance(prep, bool)):
        raise InvalidRequest(f"{where}: `prep_minutes` is a whole number of minutes", field="prepMinutes")
    rules: list[Rule] = []
    for kind, key in KEYS.items():
        patterns = _list_of_strings(entry, key, station_id)
        rules.extend(Rule(station_id, kind, pattern, len(rules) + n) for n, pattern in enumerate(patterns))
    return Station(station_id, name, position, default, prep), rules


def _area(entry: Any, position: int) -> Area:
    area_id, name = _identified(entry, f"area {position + 1}", "area", AREA_KEYS)
    return Area(area_id, name, _list_of_strings(entry, "waiters", area_id, field="waiterIds"), position)


def _table(entry: Any, position: int) -> Table:
    table_id, name = _identified(entry, f"table {position + 1}", "table", TABLE_KEYS)
    area = entry.get("area")
    if not isinstance(area, str):
        raise InvalidRequest(f"table {table_id}: `area` names its area's id", field="areaId")
    covers = entry.get("max_covers")
    if covers is not None and type(covers) is not int:
        raise InvalidRequest(f"table {table_id}: `max_covers` is a whole number", field="maxCovers")
    waiters = _list_of_strings(entry, "waiters", table_id, field="waiterIds")
    return Table(table_id, name, area, covers, waiters, position)


def _in_file_order(tables: tuple[Table, ...]) -> tuple[Table, ...]:
    """A table's position counts within its area, as screens show them."""
    seen: dict[str, int] = {}
    placed = []
    for table in tables:
        placed.append(dataclasses.replace(table, position=seen.get(table.area_id, 0)))
        seen[table.area_id] = seen.get(table.area_id, 0) + 1
    return tuple(placed)


def _entries(data: dict[str, Any], section: str, make: Callable[[Any, int], T]) -> tuple[T, ...]:
    entries = data.get(section, [])
    if not isinstance(entries, list):
        raise InvalidRequest(f"`{section}` is a list of [[{section}]] tables")
    return tuple(make(entry, position) for position, entry in enumerate(entries))


def _identified(entry: Any, where: str, section: str, keys: set[str]) -> tuple[str, str]:
    """An entry's id and name (the name defaults to the id), once its keys are known ones."""
    if not isinstance(entry, dict):
        raise InvalidRequest(f"{where}: a [[{section}]] table")
    unknown = set(entry) - keys
    if unknown:
        raise InvalidRequest(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}; one of {', '.join(sorted(keys))}"
        )
    found_id, name = entry.get("id"), entry.get("name", entry.get("id"))
    if not isinstance(found_id, str) or not isinstance(name, str):
        raise InvalidRequest(f"{where}: `id` (and `name`) are strings", field="id")
    return found_id, name


def _list_of_strings(
    entry: dict[str, Any], key: str, owner: str, *, field: str | None = None
) -> tuple[str, ...]:
    values = entry.get(key, [])
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise InvalidRequest(f"{owner}: `{key}` is a list of strings", field=field or key)
    return tuple(values)
