"""Routing rules as pure functions: every item lands on exactly one station, the most specific
rule wins, and what no rule matches goes to the default station."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.errors import InvalidRequest
from server.stations.routing import Routing, Rule, RuleKind, Station

GRILL, FRY, BAR, COLD = (
    Station(name, name.title(), n) for n, name in enumerate(["grill", "fry", "bar", "cold"])
)
KITCHEN = Station("kitchen", "Kitchen", 9, is_default=True)
STATIONS = (GRILL, FRY, BAR, COLD, KITCHEN)


def routing(*rules: Rule) -> Routing:
    return Routing(STATIONS, rules)


def test_an_exact_plu_beats_a_prefix_which_beats_a_name_pattern():
    rules = routing(
        Rule("cold", RuleKind.NAME, "*burger*"),
        Rule("fry", RuleKind.PLU_PREFIX, "BRG"),
        Rule("grill", RuleKind.PLU, "BRG-01"),
    )
    assert rules.route(plu="BRG-01", name="Burger") == "grill"
    assert rules.route(plu="BRG-02", name="Veggie Burger") == "fry"
    assert rules.route(plu="X-1", name="Veggie BURGER") == "cold"  # names ignore case
    assert rules.route(plu="X-1", name="Soup") == "kitchen"


def test_the_longest_prefix_wins_and_name_patterns_go_by_position():
    rules = routing(
        Rule("bar", RuleKind.PLU_PREFIX, "D"),
        Rule("cold", RuleKind.PLU_PREFIX, "DES"),
        Rule("grill", RuleKind.NAME, "*steak*", position=2),
        Rule("fry", RuleKind.NAME, "*chips*", position=1),
    )
    assert rules.route(plu="DES-01", name="Pudding") == "cold"
    assert rules.route(plu="DRK-01", name="Lager") == "bar"
    assert rules.route(plu="M-1", name="Steak and chips") == "fry"


def test_a_venue_has_exactly_one_default_station_and_rules_name_real_ones():
    with pytest.raises(InvalidRequest, match="exactly one"):
        Routing((GRILL, FRY), ())
    with pytest.raises(InvalidRequest, match="exactly one"):
        Routing((KITCHEN, Station("bar", "Bar", is_default=True)), ())
    with pytest.raises(InvalidRequest, match="no such station"):
        Routing((KITCHEN,), (Rule("pizza", RuleKind.PLU, "P-1"),))
    with pytest.raises(InvalidRequest, match="lowercase"):
        Routing((Station("Grill Station", "Grill", is_default=True),), ())


rule_sets = st.lists(
    st.builds(
        Rule,
        station_id=st.sampled_from([s.id for s in STATIONS]),
        kind=st.sampled_from(list(RuleKind)),
        pattern=st.text(min_size=1, max_size=6),
        position=st.integers(0, 20),
    ),
    max_size=12,
)
items = st.tuples(st.text(max_size=8), st.text(max_size=12))


@given(rules=rule_sets, item=items)
def test_every_item_lands_on_exactly_one_known_station(rules: list[Rule], item: tuple[str, str]):
    plu, name = item
    station = routing(*rules).route(plu=plu, name=name)
    assert station in {s.id for s in STATIONS}
    matching = [rule for rule in rules if rule.matches(plu=plu, name=name)]
    if not matching:
        assert station == KITCHEN.id
    else:  # the most specific matching rule, whatever order the rules were given in
        assert station == min(matching, key=Rule.specificity).station_id


@given(rules=rule_sets, item=items, seed=st.randoms())
def test_the_order_rules_are_listed_in_does_not_matter(rules: list[Rule], item: tuple[str, str], seed):
    shuffled = list(rules)
    seed.shuffle(shuffled)
    plu, name = item
    assert routing(*rules).route(plu=plu, name=name) == routing(*shuffled).route(plu=plu, name=name)
