"""The venue file (`orderpass venue load|show`): parsed to checked stations, rules and floor, and back."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.errors import InvalidRequest
from server.floor.model import MAX_COVERS, Area, FloorPlan, Table
from server.simulate import MENU
from server.stations.routing import Routing, Rule, RuleKind, Station
from server.venue import Venue, parse, render

FILE = """
[[station]]
id = "grill"
name = "Grill"
prep_minutes = 20
plu = ["BUR-DBL"]
plu_prefix = ["BUR", "STK"]

[[station]]
id = "kitchen"
name = "Kitchen"
default = true

[[station]]
id = "bar"
names = ["*lager*"]
"""


def test_a_file_becomes_stations_in_file_order_with_their_rules():
    routing = parse(FILE).routing
    assert routing.stations == (
        Station("grill", "Grill", 0, False, prep_minutes=20),
        Station("kitchen", "Kitchen", 1, True),
        Station("bar", "bar", 2, False),  # the name defaults to the id
    )
    assert routing.route(plu="BUR-DBL", name="Double") == "grill"
    assert routing.route(plu="STK-1", name="Steak") == "grill"
    assert routing.route(plu="LAG", name="Pale Lager") == "bar"
    assert routing.route(plu="SAL", name="Salad") == "kitchen"


ONE = "[[station]]\nid = 'kitchen'\ndefault = true\n"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("station = 1", "lists no [[station]]"),
        ("[[station]]\nid = 'a'\ndefault = true\n[[zone]]\nid = 'b'", "unknown top-level key(s) zone"),
        ("[[station]]\nid = 'a'\ndefault = true\nplus = ['X']", "unknown key(s) plus"),
        ("[[station]]\nid = 'a'\ndefault = 'yes'", "`default` is true or false"),
        ("[[station]]\nid = 'a'\ndefault = true\nplu = 'X'", "`plu` is a list of strings"),
        ("[[station]]\nid = 'a'\n[[station]]\nid = 'b'", "exactly one station is the default"),
        ("[[station]]\nid = 'a'\ndefault = true\n[[station]]\nid = 'a'", "two stations share an id"),
        ("[[station]]\nid = 'Grill'\ndefault = true", "lowercase letters"),
        ("[[station]]\nid = 7\ndefault = true", "`id` (and `name`) are strings"),
        ("[[station]\nid = 'a'", "not a TOML file"),
        (f"{ONE}[[table]]\nid = 't1'\narea = 'nowhere'", "no such area"),
        (f"{ONE}[[table]]\nid = 't1'", "`area` names its area's id"),
        (f"{ONE}[[area]]\nid = 'up'\n[[table]]\nid = 't1'\narea = 'up'\nmax_covers = true", "whole number"),
        (f"{ONE}[[area]]\nid = 'up'\n[[table]]\nid = 't1'\narea = 'up'\nmax_covers = 0", "maxCovers"),
        (f"{ONE}[[area]]\nid = 'up'\nwaiters = 'becky'", "`waiters` is a list of strings"),
        (f"{ONE}[[area]]\nid = 'up'\nwaiters = ['becky', 'becky']", "a waiter is listed twice"),
        (f"{ONE}[[area]]\nid = 'up'\nseats = 4", "unknown key(s) seats"),
        (f"{ONE}[[area]]\nid = 'up stairs'", "area ids are up to 64 ASCII letters"),
        (f"{ONE}[[area]]\nid = 'up'\n[[area]]\nid = 'up'", "two areas share an id"),
        (f"{ONE}[[area]]\nid = 'up'\nname = ' '", "a name is 1 to 60 characters"),
        (
            f"{ONE}[[area]]\nid = 'up'\n[[table]]\nid = 'a'\nname = 'T1'\narea = 'up'\n"
            "[[table]]\nid = 'b'\nname = 'T1'\narea = 'up'",
            "two tables in area up are named 'T1'",
        ),
        (f"table = 3\n{ONE}", "`table` is a list of [[table]] tables"),
        ("[[station]]\nid = 'a'\ndefault = true\nprep_minutes = '20'", "`prep_minutes` is a whole number"),
        ("[[station]]\nid = 'a'\ndefault = true\nprep_minutes = -5", "prep time is 0 to 1440 minutes"),
    ],
)
def test_a_bad_file_says_what_is_wrong(text: str, says: str):
    with pytest.raises(InvalidRequest) as raised:
        parse(text)
    assert says in raised.value.message


FLOOR = """
[[area]]
id = "downstairs"
name = "Downstairs"
waiters = ["becky"]

[[area]]
id = "terrace"

[[table]]
id = "t12"
name = "Table 12"
area = "terrace"
max_covers = 4
waiters = ["becky", "sam"]

[[table]]
id = "5"
area = "downstairs"
"""


def test_areas_and_tables_come_in_file_order_named_by_their_id_if_not_otherwise():
    floor = parse(FILE + FLOOR).floor
    assert floor.areas == (Area("downstairs", "Downstairs", ("becky",), 0), Area("terrace", "terrace", (), 1))
    assert floor.tables == (
        Table("t12", "Table 12", "terrace", 4, ("becky", "sam"), 0),
        Table("5", "5", "downstairs", None, (), 0),  # the first of its area
    )


def test_a_file_without_areas_or_tables_has_an_empty_floor():
    assert parse(FILE).floor.empty


ids = st.lists(st.from_regex(r"[a-z0-9][a-z0-9-]{0,8}", fullmatch=True), min_size=1, max_size=4, unique=True)
patterns = st.text(min_size=1, max_size=12).filter(lambda p: p.strip() != "")


@st.composite
def routings(draw: st.DrawFn) -> Routing:
    station_ids = draw(ids)
    default = draw(st.sampled_from(station_ids))
    prep = st.none() | st.integers(0, 24 * 60)
    stations = tuple(
        Station(sid, draw(patterns), n, sid == default, draw(prep)) for n, sid in enumerate(station_ids)
    )
    rules: list[Rule] = []
    for sid in station_ids:
        for kind in RuleKind:  # a file lists a station's PLUs, then prefixes, then names
            rules.extend(Rule(sid, kind, p, 0) for p in draw(st.lists(patterns, max_size=3)))
    return Routing(stations, tuple(rules))


floor_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,10}", fullmatch=True)
waiters = st.lists(patterns, max_size=3, unique=True).map(tuple)


@st.composite
def floors(draw: st.DrawFn) -> FloorPlan:
    area_ids = draw(st.lists(floor_ids, max_size=3, unique=True))
    areas = tuple(Area(aid, draw(patterns), draw(waiters), n) for n, aid in enumerate(area_ids))
    if not areas:
        return FloorPlan(areas)
    tables: list[Table] = []
    names: set[tuple[str, str]] = set()
    for tid in draw(st.lists(floor_ids, max_size=6, unique=True)):
        area, name = draw(st.sampled_from(area_ids)), draw(patterns)
        if (area, name) in names:  # a name is unique within its area
            continue
        names.add((area, name))
        covers = draw(st.none() | st.integers(1, MAX_COVERS))
        position = sum(1 for table in tables if table.area_id == area)  # its place within its area
        tables.append(Table(tid, name, area, covers, draw(waiters), position))
    return FloorPlan(areas, tuple(tables))


@given(routings(), floors())
def test_show_then_load_gives_back_the_same_venue(routing: Routing, floor: FloorPlan):
    venue = Venue(routing, floor)
    again = parse(render(venue))
    assert again.routing.stations == routing.stations
    mine = sorted((r.station_id, r.kind, r.pattern) for r in routing.rules)
    assert sorted((r.station_id, r.kind, r.pattern) for r in again.routing.rules) == mine
    assert again.floor == floor.in_screen_order()  # the file lists them as screens show them
    assert render(again) == render(venue)


AWKWARD = (
    'the "pass"',
    "back\\slash\\",
    "two\nlines\r\n",
    "tab\tand\x7fdel\x00nul",
    "café · 寿司 · 🍔",
    "# not a comment",
    "a = 'b' # c",
    "]]\n[[station]]",
    '"""',
)


@pytest.mark.parametrize("name", AWKWARD)
def test_show_writes_any_name_so_that_load_reads_the_same_name_back(name: str):
    routing = Routing(
        (Station("kitchen", name, 0, True), Station("bar", f"{name}!", 1, False)),
        (Rule("kitchen", RuleKind.NAME, f"*{name}*", 0), Rule("bar", RuleKind.PLU, name, 0)),
    )
    floor = FloorPlan(
        (Area("downstairs", name, (name,), 0),), (Table("t1", name, "downstairs", 2, (name, "sam"), 0),)
    )
    written = render(Venue(routing, floor))
    again = parse(written)
    assert again.routing.stations == routing.stations
    assert [(r.station_id, r.kind, r.pattern) for r in again.routing.rules] == [
        (r.station_id, r.kind, r.pattern) for r in routing.rules
    ]
    assert again.floor == floor
    assert written.splitlines().count("[[station]]") == 2  # nothing in a name opened a table of its own


def test_the_example_venue_file_routes_the_simulators_own_menu():
    """The README's example (examples/venue.toml): with `orderpass simulate` running, every station
    gets its share of the simulator's dishes, and the default only what no rule names."""
    routing = parse(
        (Path(__file__).parents[1] / "examples" / "venue.toml").read_text(encoding="utf-8")
    ).routing
    where = {dish.name: routing.route(plu=dish.plu, name=dish.name) for dish in MENU}
    assert where == {
        "Burger": "grill",
        "Chicken Wings": "grill",
        "Fish & Chips": "fryer",
        "Margherita Pizza": "pizza",
        "Flat White": "bar",
        "Lager (pint)": "bar",
        "House Red (175ml)": "bar",
        "Lemonade": "bar",
        "Caesar Salad": "kitchen",
        "Sticky Toffee Pudding": "kitchen",
    }
    assert set(where.values()) == {station.id for station in routing.stations}
    assert {s.id: s.prep_minutes for s in routing.stations} == {
        "kitchen": None,
        "grill": 20,
        "fryer": None,
        "pizza": None,
        "bar": 5,
    }


def test_the_readme_shows_the_example_venue_file_as_it_is():
    root = Path(__file__).resolve().parents[1]
    example = (root / "examples" / "venue.toml").read_text()
    assert example.rstrip("\n") in (root / "README.md").read_text()
