"""A refund made in the Stripe Dashboard that Stripe failed opens its "Refund failed" card whatever
order Stripe's events arrive in: also when the refund's failure is heard of before the payment
itself (webhooks are not ordered; the reconciliation may read the refund first)."""

from __future__ import annotations

import itertools

import pytest

from registrations.models import Registration, ReviewItem
from registrations.services import apply_booking, apply_payment
from registrations.signals import PaymentSignal
from tests.domain.builders import at, booked, paid
from tests.factories import EventFactory, EventMappingFactory

from .builders import ATYPE, PLINK

pytestmark = pytest.mark.django_db


def refund(status: str, hours: float) -> PaymentSignal:
    return PaymentSignal(
        status="refunded",
        source_id="re_dash_1",
        refund_id="re_dash_1",
        refund_status=status,
        failure_reason="expired_or_canceled_card" if status == "failed" else "",
        charge_id="ch_1",
        payment_intent_id="pi_1",
        amount_refunded=4000,
        occurred_at=at(hours),
        raw_ref=f"evt_re_dash_1_{status}",
    )


STEPS = {
    "paid": lambda: apply_payment(paid(1)),
    "booked": lambda: apply_booking(booked(1)),
    "refund pending": lambda: apply_payment(refund("pending", 1)),
    "refund failed": lambda: apply_payment(refund("failed", 2)),
}


ORDERS = list(itertools.permutations(STEPS)) + list(itertools.permutations([s for s in STEPS if s != "booked"]))


@pytest.mark.parametrize("order", ORDERS, ids=" → ".join)
def test_a_failed_dashboard_refund_opens_one_card_whatever_the_order(order):
    event = EventFactory()
    EventMappingFactory(event=event, kind="stripe_payment_link", value=PLINK)
    EventMappingFactory(event=event, kind="acuity_appointment_type", value=ATYPE)
    for step in order:
        STEPS[step]()
    reg = Registration.objects.get(event=event)
    cards = ReviewItem.objects.filter(kind=ReviewItem.Kind.REFUND_FAILED)
    assert [(c.key, c.state) for c in cards] == [("refund_failed:re_dash_1", "open")]
    assert reg.status == "needs_review"
