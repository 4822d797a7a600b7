"""The demo's fake Stripe knows the demo's payments (``./dev run`` starts it with ``--mirror-db``),
so an operator trying a refund in the demo gets one instead of "No such payment_intent"."""

import pytest
from django.core.management import call_command

from integrations.clients import ProviderError
from integrations.refunds import create_refund
from registrations.models import Payment
from tests.fakes.serve import mirror_stripe_payments


@pytest.mark.django_db
def test_a_refund_tried_in_the_demo_goes_through_the_fake_stripe(fake_stripe):
    call_command("seed_demo", verbosity=0)
    payment = Payment.objects.filter(method=Payment.Method.STRIPE, state=Payment.State.PAID).order_by("pk").first()
    assert payment is not None and payment.payment_intent_id.startswith("pi_demo_")
    with pytest.raises(ProviderError):  # what the demo answered before
        create_refund(payment, 1000, "demo-refund-before")

    mirrored = mirror_stripe_payments(fake_stripe)

    assert (
        mirrored
        == Payment.objects.filter(method=Payment.Method.STRIPE, state__in=[Payment.State.PAID, Payment.State.UNPAID])
        .exclude(checkout_session_id="")
        .count()
    )
    refund = create_refund(payment, 1000, "demo-refund")
    assert refund["status"] == "succeeded" and refund["amount"] == 1000
    assert refund["payment_intent"] == payment.payment_intent_id
    session = fake_stripe.sessions[payment.checkout_session_id]
    assert session["amount_total"] == payment.amount and session["customer_details"]["email"] == payment.email
    assert mirror_stripe_payments(fake_stripe) == 0  # a second call adds nothing
