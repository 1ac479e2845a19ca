"""The venue file (`orderpass stations load|show`): parsed to a checked Routing, and back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.errors import InvalidRequest
from server.stations.routing import Routing, Rule, RuleKind, Station
from server.venue import parse, render

FILE = """
[[station]]
id = "grill"
name = "Grill"
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
    routing = parse(FILE)
    assert routing.stations == (
        Station("grill", "Grill", 0, False),
        Station("kitchen", "Kitchen", 1, True),
        Station("bar", "bar", 2, False),  # the name defaults to the id
    )
    assert routing.route(plu="BUR-DBL", name="Double") == "grill"
    assert routing.route(plu="STK-1", name="Steak") == "grill"
    assert routing.route(plu="LAG", name="Pale Lager") == "bar"
    assert routing.route(plu="SAL", name="Salad") == "kitchen"


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
    ],
)
def test_a_bad_file_says_what_is_wrong(text: str, says: str):
    with pytest.raises(InvalidRequest) as raised:
        parse(text)
    assert says in raised.value.message


ids = st.lists(st.from_regex(r"[a-z0-9][a-z0-9-]{0,8}", fullmatch=True), min_size=1, max_size=4, unique=True)
patterns = st.text(min_size=1, max_size=12).filter(lambda p: p.strip() != "")


@st.composite
def routings(draw: st.DrawFn) -> Routing:
    station_ids = draw(ids)
    default = draw(st.sampled_from(station_ids))
    stations = tuple(Station(sid, draw(patterns), n, sid == default) for n, sid in enumerate(station_ids))
    rules: list[Rule] = []
    for sid in station_ids:
        for kind in RuleKind:  # a file lists a station's PLUs, then prefixes, then names
            rules.extend(Rule(sid, kind, p, 0) for p in draw(st.lists(patterns, max_size=3)))
    return Routing(stations, tuple(rules))


@given(routings())
def test_show_then_load_gives_back_the_same_routing(routing: Routing):
    again = parse(render(routing))
    assert again.stations == routing.stations
    mine = sorted((r.station_id, r.kind, r.pattern) for r in routing.rules)
    assert sorted((r.station_id, r.kind, r.pattern) for r in again.rules) == mine
    assert render(again) == render(routing)
