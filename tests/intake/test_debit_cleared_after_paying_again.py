"""An attendee's bank debit is still clearing, a reminder goes out anyway (or they lose patience),
they pay again by card, and days later the old debit clears too: they have paid twice, far more
than 24 hours apart. An operator is asked to refund one, whatever order Stripe's events came in."""

import time
from datetime import timedelta

import pytest

from registrations.models import Payment, Registration, ReviewItem, Status

from .conftest import inbox, run_queue

pytestmark = pytest.mark.django_db

DAY = 86400


@pytest.fixture
def deliver(post_stripe):
    def deliver(evt):
        assert post_stripe(evt).status_code == 200
        run_queue()
        return inbox(evt["id"])

    return deliver


def duplicate_cards():
    return list(ReviewItem.objects.filter(kind=ReviewItem.Kind.DUPLICATE_PAYMENT, state=ReviewItem.State.OPEN))


def debit_card_then_clearing(fake_stripe, *, clearing_first: bool = False):
    """Debit started 6 days ago, card paid 3 days ago, debit cleared today (events in the given order)."""
    now = int(time.time())
    debit = fake_stripe.add_session(payment_status="unpaid", amount=12000, created=now - 6 * DAY)
    card = fake_stripe.add_session(payment_status="paid", amount=12500, created=now - 3 * DAY)
    started = fake_stripe.session_event(dict(debit), created=now - 6 * DAY)
    paid_by_card = fake_stripe.session_event(card, created=now - 3 * DAY)
    cleared = fake_stripe.session_event(
        {**debit, "payment_status": "paid"}, "checkout.session.async_payment_succeeded", created=now
    )
    order = [cleared, started, paid_by_card] if clearing_first else [started, paid_by_card, cleared]
    return debit, card, order


def test_a_bank_debit_that_clears_days_after_the_attendee_paid_again_by_card_asks_for_a_refund(
    deliver, fake_stripe, event
):
    debit, card, order = debit_card_then_clearing(fake_stripe)
    deliver(order[0])
    deliver(order[1])
    assert Registration.objects.get().status == Status.PAID_ONLY and duplicate_cards() == []

    deliver(order[2])  # the old debit clears, days later

    reg = Registration.objects.get()
    assert reg.status == Status.NEEDS_REVIEW
    [item] = duplicate_cards()
    debit_row = Payment.objects.get(checkout_session_id=debit["id"])
    card_row = Payment.objects.get(checkout_session_id=card["id"])
    assert item.payment == debit_row and item.data["first_payment"] == card_row.pk
    text = item.explanation
    assert "bank debit of 120.00 USD" in text and "125.00 USD" in text  # both payments, both amounts
    assert "paid twice" in text and "refund" in text.lower()


def test_the_same_card_opens_when_the_clearing_arrives_before_the_other_events(deliver, fake_stripe, event):
    debit, card, order = debit_card_then_clearing(fake_stripe, clearing_first=True)
    for evt in order:
        deliver(evt)

    [item] = duplicate_cards()
    assert item.payment.checkout_session_id == debit["id"]
    assert "bank debit of 120.00 USD" in item.explanation and "125.00 USD" in item.explanation


def test_a_bank_debit_that_cleared_before_the_second_payment_is_not_flagged_by_this_rule(deliver, fake_stripe, event):
    now = int(time.time())
    debit = fake_stripe.add_session(payment_status="unpaid", created=now - 6 * DAY)
    deliver(fake_stripe.session_event(dict(debit), created=now - 6 * DAY))
    deliver(
        fake_stripe.session_event(
            {**debit, "payment_status": "paid"}, "checkout.session.async_payment_succeeded", created=now - 3 * DAY
        )
    )
    card = fake_stripe.add_session(payment_status="paid", created=now - DAY)  # a second seat, say, after it cleared
    deliver(fake_stripe.session_event(card, created=now - DAY))

    assert duplicate_cards() == []


def test_a_refund_of_either_payment_closes_the_card(deliver, fake_stripe, event):
    debit, card, order = debit_card_then_clearing(fake_stripe)
    for evt in order:
        deliver(evt)
    assert len(duplicate_cards()) == 1

    fake_stripe.refund(card)  # refunded in full in the Stripe dashboard
    deliver(fake_stripe.charge_refunded_event(card))

    assert duplicate_cards() == []
    assert Registration.objects.get().status == Status.PAID_ONLY


def test_a_late_debit_card_that_the_24_hour_rule_then_holds_stays_open_without_flipping(deliver, fake_stripe, event):
    """The debit's time is corrected to within 24 hours of the card payment: the 24-hour rule now
    holds the pair. The card stays open (one card, its rule updated) instead of being closed and
    reopened on every re-derivation, each writing history rows."""
    from registrations.models import AuditLog
    from registrations.services import recompute

    debit, card, order = debit_card_then_clearing(fake_stripe)
    for evt in order:
        deliver(evt)
    [item] = duplicate_cards()
    card_row = Payment.objects.get(checkout_session_id=card["id"])
    Payment.objects.filter(checkout_session_id=debit["id"]).update(
        occurred_at=card_row.occurred_at + timedelta(hours=1)
    )
    reg = Registration.objects.get()

    for _ in range(3):
        recompute(reg)

    [again] = duplicate_cards()
    assert again.pk == item.pk and "rule" not in again.data
    assert not AuditLog.objects.filter(action__in=["review.auto_closed", "review.reopened"]).exists()


def test_a_late_debit_card_that_sent_a_refund_still_remembers_it_when_the_24_hour_rule_takes_over(
    deliver, fake_stripe, event
):
    """The card sent a refund whose answer was lost (``refund_sent``), then the 24-hour rule came to
    hold the pair. The card must still remember it sent one, so the operator's next confirm asks
    Stripe what it refunded instead of sending a second refund once the key is pruned."""
    from registrations.resolutions import REFUND_SENT, note_refund_sent
    from registrations.services import recompute

    debit, card, order = debit_card_then_clearing(fake_stripe)
    for evt in order:
        deliver(evt)
    [item] = duplicate_cards()
    note_refund_sent(item.pk)
    card_row = Payment.objects.get(checkout_session_id=card["id"])
    Payment.objects.filter(checkout_session_id=debit["id"]).update(
        occurred_at=card_row.occurred_at + timedelta(hours=1)
    )

    recompute(Registration.objects.get())

    [again] = duplicate_cards()
    assert again.pk == item.pk and "rule" not in again.data
    assert again.data.get(REFUND_SENT) is True


def test_a_late_debit_card_closes_by_itself_when_the_other_payment_turns_out_to_be_for_two_seats(
    deliver, fake_stripe, event
):
    from registrations.services import recompute

    debit, card, order = debit_card_then_clearing(fake_stripe)
    for evt in order:
        deliver(evt)
    [item] = duplicate_cards()
    Payment.objects.filter(checkout_session_id=card["id"]).update(quantity=2)  # a group payment, not a second seat

    recompute(Registration.objects.get())

    item.refresh_from_db()
    assert item.state == ReviewItem.State.RESOLVED and item.resolution.startswith("auto:")
