import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from server.lifecycle import TERMINAL, OrderStatus
from server.payments.model import Payment, PaymentSource, PaymentStatus, counts
from tests.factories import an_order

statuses = st.one_of(st.none(), st.sampled_from(PaymentStatus))
payments = st.builds(
    Payment,
    payment_intent_id=st.uuids().map(str),
    paid_amount=st.integers(0, 10**9),
    tips_amount=st.integers(0, 10**6),
    source=st.sampled_from(PaymentSource),
    status=statuses,
)


def test_authorized_and_captured_payments_count_whatever_their_source():
    for source in PaymentSource:
        assert counts(PaymentStatus.AUTHORIZED, source)
        assert counts(PaymentStatus.CAPTURED, source)


def test_reversed_refunded_and_canceled_payments_stop_counting():
    for source in PaymentSource:
        for status in (PaymentStatus.REVERSED, PaymentStatus.REFUNDED, PaymentStatus.CANCELED):
            assert not counts(status, source)


def test_a_payment_dojo_handed_us_counts_until_an_event_says_otherwise():
    assert counts(None, PaymentSource.ORDER)
    assert counts(PaymentStatus.CREATED, PaymentSource.ORDER)
    assert not counts(PaymentStatus.CREATED, PaymentSource.RESOLVED)


@given(
    st.lists(payments, max_size=8, unique_by=lambda p: p.payment_intent_id),
    st.integers(0, 10**9),
    st.sampled_from(OrderStatus),
)
def test_paid_and_tips_are_sums_over_counting_payments_and_payable_follows(given_payments, total, status):
    order = an_order(payments=tuple(given_payments), total=total, status=status)
    counting = [p for p in given_payments if p.counts]
    assert order.paid_amount == sum(p.paid_amount for p in counting)
    assert order.tips_amount == sum(p.tips_amount for p in counting)
    assert order.counted_payments == tuple(counting)
    assert order.payable == (status not in TERMINAL and order.paid_amount < total)


@given(st.lists(payments, min_size=1, max_size=8, unique_by=lambda p: p.payment_intent_id))
def test_stopping_a_payment_never_raises_what_is_paid(given_payments):
    before = an_order(payments=tuple(given_payments))
    stopped = (dataclasses.replace(given_payments[0], status=PaymentStatus.REFUNDED),)
    after = an_order(payments=stopped + tuple(given_payments[1:]))
    assert after.paid_amount <= before.paid_amount
    assert after.tips_amount <= before.tips_amount
