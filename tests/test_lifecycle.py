from itertools import product

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.errors import Conflict, InvalidMove
from server.lifecycle import (
    ACTIVE,
    BRING_BACK,
    BUMP,
    BUMP_VERB,
    DOJO_CANCELLABLE,
    EXPO,
    KITCHEN,
    NEXT,
    RECALL,
    TERMINAL,
    Bump,
    OrderStatus,
    bump_of,
    check_dojo_cancel,
    check_move,
    finished_by_items,
    marks_every_item_made,
    path,
    ready_mark,
    reopened_by_items,
    started_by_station,
)

S = OrderStatus


def test_every_status_has_a_row():
    assert set(NEXT) == set(OrderStatus)


def test_finalized_canceled_and_failed_are_the_terminal_statuses():
    assert {S.FINALIZED, S.CANCELED, S.FAILED} == TERMINAL


@pytest.mark.parametrize(("current", "target"), list(product(OrderStatus, OrderStatus)))
def test_every_pair_is_either_allowed_or_raises(current, target):
    if target in NEXT[current]:
        check_move(current, target, paid_in_full=True)
    else:
        with pytest.raises(InvalidMove) as raised:
            check_move(current, target, paid_in_full=True)
        assert raised.value.allowed == tuple(sorted(NEXT[current], key=list(OrderStatus).index))


@given(st.sampled_from(sorted(ACTIVE)))
def test_any_active_order_can_be_canceled_or_failed(status):
    check_move(status, S.CANCELED, paid_in_full=False)
    check_move(status, S.FAILED, paid_in_full=False)


def test_every_bump_has_a_verb_and_no_two_bumps_share_one():
    assert set(BUMP_VERB) == set(BUMP.values())
    assert len(set(BUMP_VERB.values())) == len(BUMP_VERB)


@pytest.mark.parametrize("current", sorted(BUMP))
def test_a_bump_a_screen_offers_is_one_the_table_allows(current):
    for paid in (True, False):
        bump = bump_of(current, paid_in_full=paid)
        assert bump is not None
        assert bump.to is BUMP[current]
        if bump.refused is None:
            check_move(current, bump.to, paid_in_full=paid)
        else:
            with pytest.raises(Conflict):
                check_move(current, bump.to, paid_in_full=paid)


def test_hand_over_is_refused_with_a_reason_until_the_order_is_paid():
    assert bump_of(S.READY, paid_in_full=False) == Bump(
        S.FINALIZED, "Hand over", "Unpaid: take payment to hand over"
    )
    assert bump_of(S.READY, paid_in_full=True) == Bump(S.FINALIZED, "Hand over")
    verbs = [bump_of(s, paid_in_full=True) for s in (S.NEW, S.ACCEPTED, S.PREPARING, S.PREPARED)]
    assert [bump.verb for bump in verbs if bump] == ["Accept", "Start", "Done", "Ready"]
    assert bump_of(S.FINALIZED, paid_in_full=True) is None


def test_an_order_reaches_finalized_only_when_paid_in_full():
    with pytest.raises(Conflict, match="paid in full"):
        check_move(S.READY, S.FINALIZED, paid_in_full=False)
    check_move(S.READY, S.FINALIZED, paid_in_full=True)


def test_bump_and_recall_only_name_moves_the_table_allows():
    for source, target in [*BUMP.items(), *RECALL.items()]:
        assert target in NEXT[source], (source, target)


def test_bump_walks_every_kitchen_status_to_finalized():
    status, walked = S.NEW, [S.NEW]
    while status in BUMP:
        status = BUMP[status]
        walked.append(status)
    assert walked == [S.NEW, S.ACCEPTED, S.PREPARING, S.PREPARED, S.READY, S.FINALIZED]


@pytest.mark.parametrize("status", list(OrderStatus))
def test_dojo_may_cancel_only_before_the_kitchen_accepts(status):
    if status in {S.NEW, S.SUBMITTED, S.CONFIRMED}:
        check_dojo_cancel(status)
    else:
        with pytest.raises(Conflict):
            check_dojo_cancel(status)
    assert {S.NEW, S.SUBMITTED, S.CONFIRMED} == DOJO_CANCELLABLE


# -- the walks and the rules derived from them ---------------------------------------------------


@pytest.mark.parametrize(("current", "target"), list(product(OrderStatus, OrderStatus)))
def test_every_path_step_is_an_allowed_move(current, target):
    steps = path(current, target)
    if steps is None:
        return
    status = current
    for step in steps:
        assert step in NEXT[status], (current, target, steps)
        status = step
    assert status is target


def test_every_kitchen_status_has_a_path_to_preparing_and_the_expo_one_back():
    assert {S.NEW, S.SUBMITTED, S.CONFIRMED, S.ACCEPTED, S.PREPARING} == KITCHEN
    assert {S.PREPARED, S.READY} == EXPO
    for status in KITCHEN | EXPO:
        assert path(status, S.PREPARING) is not None
    assert path(S.NEW, S.PREPARING) == (S.ACCEPTED, S.PREPARING)
    assert path(S.READY, S.PREPARING) == (S.PREPARED, S.PREPARING)
    assert path(S.FINALIZED, S.PREPARING) is None


@pytest.mark.parametrize("status", list(OrderStatus))
def test_a_stations_first_bump_starts_the_order_and_its_last_finishes_it(status):
    if status not in KITCHEN:
        with pytest.raises(Conflict):
            started_by_station(status, all_made=False)
        return
    assert started_by_station(status, all_made=False) == path(status, S.PREPARING)
    assert started_by_station(status, all_made=True)[-1] is S.PREPARED


def test_items_finish_a_preparing_order_and_new_work_reopens_one_that_left_the_kitchen():
    assert finished_by_items(S.PREPARING, all_made=True) == (S.PREPARED,)
    assert finished_by_items(S.PREPARING, all_made=False) == ()
    assert finished_by_items(S.ACCEPTED, all_made=True) == ()
    assert reopened_by_items(S.READY) == (S.PREPARED, S.PREPARING)
    assert reopened_by_items(S.PREPARED) == (S.PREPARING,)
    assert [reopened_by_items(s) for s in KITCHEN] == [()] * len(KITCHEN)
    assert marks_every_item_made(S.PREPARED)
    assert not marks_every_item_made(S.READY)
    assert {S.PREPARING, S.PREPARED} == BRING_BACK


def test_the_dojo_cancel_message_is_built_from_its_table():
    with pytest.raises(Conflict, match="only a New, Submitted or Confirmed order"):
        check_dojo_cancel(S.ACCEPTED)


def test_ready_is_stamped_on_arrival_cleared_on_going_back_and_kept_on_the_way_out():
    marks = {(current, target): ready_mark(current, target) for current in S for target in NEXT[current]}
    assert {pair for pair, mark in marks.items() if mark is True} == {(S.PREPARED, S.READY)}
    assert {pair for pair, mark in marks.items() if mark is False} == {(S.READY, S.PREPARED)}  # a recall
    assert marks[(S.READY, S.FINALIZED)] is None  # handed over: its time stands
    assert marks[(S.READY, S.CANCELED)] is None
    assert ready_mark(S.READY, S.PREPARING) is False  # an edit reopens it: two steps, one write
