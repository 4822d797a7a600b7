"""A "Refund failed" card is about the person whose payment it is. Two rows of one payment matched
to two people (the checkout's, the payment intent's) are joined when a webhook names both ids: the
payment goes to the first person. A Dashboard refund of it that Stripe failed before the join used
to leave its card open on the second person (who no longer paid anything, and read Pending), while
the first read Paid only with no card, and the card said the second person was owed the money."""

from __future__ import annotations

from dataclasses import replace

import pytest

from registrations.models import Registration, ReviewItem
from registrations.services import apply_payment
from registrations.signals import PaymentSignal
from tests.domain.builders import at, paid, pi_succeeded

pytestmark = pytest.mark.django_db


def failed_dashboard_refund() -> PaymentSignal:
    return PaymentSignal(
        status="refunded",
        source_id="re_dash_1",
        refund_id="re_dash_1",
        refund_status="failed",
        failure_reason="expired_or_canceled_card",
        charge_id="ch_1",
        payment_intent_id="pi_1",
        amount_refunded=4000,
        occurred_at=at(1),
        raw_ref="evt_re_dash_1_failed",
    )


@pytest.mark.parametrize("failed", ["before the join", "after the join"])
def test_the_refund_failed_card_is_on_the_person_who_has_the_payment_whenever_the_rows_are_joined(event, failed):
    apply_payment(replace(paid(1, "first@example.org", name="First Payer"), payment_intent_id=""))
    apply_payment(
        replace(pi_succeeded(1), email="second@example.org", name="Second Person", event_keys=paid(1).event_keys)
    )
    if failed == "before the join":
        apply_payment(failed_dashboard_refund())
    apply_payment(paid(1, "first@example.org", name="First Payer", hours=48))  # names both ids: one payment
    if failed == "after the join":
        apply_payment(failed_dashboard_refund())

    first = Registration.objects.get(attendee__email="first@example.org")
    second = Registration.objects.get(attendee__email="second@example.org")
    card = ReviewItem.objects.get(kind=ReviewItem.Kind.REFUND_FAILED)
    assert (card.state, card.registration_id) == (ReviewItem.State.OPEN, first.pk)
    assert "First Payer" in card.explanation and "Second Person" not in card.explanation
    assert (first.status, second.status) == ("needs_review", "pending")
