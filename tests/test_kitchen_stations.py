"""A prep station's screen, without a database: which tickets it shows, which of their items,
its all-day counts, what it can bring back, and how the expo sees who made what."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from server.errors import NotFound
from server.kds.tickets import station_names, ticket
from server.lifecycle import OrderStatus
from server.orders.model import Order, VoidedItem
from server.stages import STAGES, station_stage, station_title
from server.stations.prep import station_recalls
from server.stations.routing import Routing, Rule, RuleKind, Station
from tests.factories import an_order, item, make_draft

S = OrderStatus
LONDON = ZoneInfo("Europe/London")
NOON = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ROUTING = Routing(
    (Station("kitchen", "Kitchen", 0, True), Station("grill", "Grill", 1), Station("bar", "Bar", 2)),
    (Rule("grill", RuleKind.PLU_PREFIX, "BUR"), Rule("bar", RuleKind.NAME, "*lager*")),
)
GRILL = station_stage(ROUTING, "grill")
BAR = station_stage(ROUTING, "bar")


def routed(
    order: Order | None = None, *, status: OrderStatus = S.PREPARING, done: dict[int, datetime] | None = None
) -> Order:
    """An order as placed in the venue above (a burger to the grill, a lager to the bar), with
    the lines in `done` bumped at those times."""
    order = order or an_order()
    prep = ROUTING.route_items(order.content.items, at=NOON)
    prep = tuple(dataclasses.replace(line, done_at=(done or {}).get(line.line)) for line in prep)
    return dataclasses.replace(order, status=status, prep=prep)


def two_burgers() -> Order:
    """A cheeseburger (with fries), a lager and a burger: two lines for the grill."""
    items = [
        *make_draft().content().items,
        make_draft(items=[item("Burger Deluxe", 1290)]).content().items[0],
    ]
    order = an_order()
    return dataclasses.replace(order, content=order.content.model_copy(update={"items": tuple(items)}))


def test_a_station_screen_is_the_kitchen_stage_narrowed_to_the_station():
    assert (GRILL.title, GRILL.station) == ("Grill", "grill")
    assert GRILL.statuses == STAGES["kitchen"].statuses


def test_an_unknown_station_is_not_found():
    with pytest.raises(NotFound, match="'fry'"):
        station_stage(ROUTING, "fry")


def test_a_station_shows_the_kitchens_orders_that_hold_items_it_has_still_to_make():
    assert GRILL.shows(routed(status=S.NEW))
    assert GRILL.shows(routed(done={2: NOON}))  # the bar's done; the grill's burger is not
    assert not GRILL.shows(routed(done={1: NOON}))  # its part is done: off its screen
    assert BAR.shows(routed(done={1: NOON}))
    assert not GRILL.shows(routed(status=S.PREPARED, done={1: NOON, 2: NOON}))
    assert not GRILL.shows(routed(status=S.CANCELED))
    assert not station_stage(ROUTING, "kitchen").shows(routed())  # nothing routed there
    assert not GRILL.shows(an_order())  # no item was routed at all


def test_a_station_ticket_lists_only_its_items_each_by_line_with_what_is_done():
    order = routed(two_burgers(), done={3: NOON})
    made = ticket(order, timezone=LONDON, stage=GRILL)
    assert [(line.number, line.name.text, line.done) for line in made.lines] == [
        (1, "Burger", False),
        (3, "Burger Deluxe", True),
    ]
    assert made.lines[0].sub_items[0].name.text == "Fries"  # sub-items go with their item
    assert [m.text for m in made.lines[0].modifiers] == ["Extra Cheese"]
    assert made.lines[0].note is not None
    assert made.lines[0].note.text == "no onions"
    assert made.note is not None  # the order's note still reaches every station
    assert made.note.allergens == ("ALLERGY", "NUTS")
    (lager,) = ticket(order, timezone=LONDON, stage=BAR).lines
    assert (lager.number, lager.name.text) == (2, "Lager")


def test_the_expo_sees_every_item_ticked_and_the_station_that_made_it():
    order = routed(status=S.PREPARED, done={1: NOON, 2: NOON})
    made = ticket(order, timezone=LONDON, stage=STAGES["expo"], stations=station_names(ROUTING))
    assert [(line.name.text, line.station, line.done) for line in made.lines] == [
        ("Burger", "Grill", True),
        ("Lager", "Bar", True),
    ]


def test_a_one_station_venue_does_not_label_every_line():
    alone = Routing((Station("kitchen", "Kitchen", 0, True),), ())
    assert station_names(alone) == {}
    assert station_names(ROUTING) == {"kitchen": "Kitchen", "grill": "Grill", "bar": "Bar"}
    made = ticket(routed(), timezone=LONDON, stations=station_names(alone))
    assert [line.station for line in made.lines] == [None, None]


def test_a_ticket_of_an_order_without_stations_lists_every_item_unnumbered():
    made = ticket(an_order(), timezone=LONDON)
    assert [(line.number, line.done) for line in made.lines] == [(None, False), (None, False)]


def test_a_stations_all_day_counts_only_what_it_has_still_to_make():
    orders = [routed(two_burgers()), routed(two_burgers(), done={1: NOON}), routed(done={1: NOON, 2: NOON})]
    assert GRILL.all_day(orders) == [("Burger", 2), ("Burger Deluxe", 2), ("Fries", 2)]
    assert BAR.all_day(orders) == [("Lager", 4)]
    kitchen = STAGES["kitchen"].all_day(orders)  # the kitchen screen counts whole tickets, as before
    assert ("Lager", 6) in kitchen
    assert ("Burger", 6) in kitchen


def test_a_stations_recall_list_is_what_it_finished_last_first_within_the_window():
    since = NOON - timedelta(minutes=15)
    early = dataclasses.replace(routed(done={1: NOON - timedelta(minutes=5)}), id="early")
    late = dataclasses.replace(routed(status=S.PREPARED, done={1: NOON, 2: NOON}), id="late")
    stale = dataclasses.replace(routed(done={1: NOON - timedelta(hours=1)}), id="stale")
    half = dataclasses.replace(routed(two_burgers(), done={1: NOON}), id="half")  # line 3 to go
    ready = dataclasses.replace(routed(status=S.READY, done={1: NOON, 2: NOON}), id="ready")  # sent out
    orders = [early, late, stale, half, ready]
    assert [o.id for o in station_recalls(orders, "grill", since=since, limit=10)] == ["late", "early"]
    assert [o.id for o in station_recalls(orders, "grill", since=since, limit=1)] == ["late"]
    assert [o.id for o in station_recalls(orders, "bar", since=since, limit=10)] == ["late"]


def test_edits_after_firing_show_on_the_same_ticket_as_added_and_void_lines():
    order = routed()
    later = NOON + timedelta(minutes=5)
    extra = item("Burger Deluxe", 1290)
    added_item = make_draft(items=[extra]).items[0]
    lager, lager_line = order.lines()[1]
    assert lager_line is not None
    edited = dataclasses.replace(
        order,
        content=order.content.model_copy(update={"items": (order.content.items[0], added_item)}),
        prep=(order.prep[0], *ROUTING.route_items([added_item], at=later, first_line=4)),
        voided=(VoidedItem(lager_line.line, lager, "bar", later, "out of lager"),),
    )
    names = station_names(ROUTING)
    everything = ticket(edited, timezone=LONDON, stations=names)
    assert [(line.number, line.name.text, line.added, line.voided) for line in everything.lines] == [
        (1, "Burger", False, False),
        (2, "Lager", False, True),  # in its place, struck through
        (4, "Burger Deluxe", True, False),
    ]
    grill = ticket(edited, timezone=LONDON, stage=GRILL, stations=names)
    assert [(line.number, line.added) for line in grill.lines] == [(1, False), (4, True)]
    bar = ticket(edited, timezone=LONDON, stage=BAR, stations=names)
    assert [(line.name.text, line.voided) for line in bar.lines] == [("Lager", True)]
    assert not BAR.shows(edited)  # nothing left for the bar to make: its screen lets the ticket go
    assert GRILL.all_day([edited]) == [("Burger", 2), ("Fries", 2), ("Burger Deluxe", 1)]


def test_a_station_named_like_a_stage_is_called_a_station_on_screens():
    assert station_stage(ROUTING, "kitchen").title == "Kitchen station"  # the stage is "Kitchen"
    assert station_stage(ROUTING, "grill").title == "Grill"
    assert station_title("expo") == "expo station"
    assert station_title("Ready board") == "Ready board station"
