from itertools import product

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.errors import Conflict, InvalidMove
from server.lifecycle import (
    ACTIVE,
    BUMP,
    DOJO_CANCELLABLE,
    NEXT,
    RECALL,
    TERMINAL,
    OrderStatus,
    check_dojo_cancel,
    check_move,
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
