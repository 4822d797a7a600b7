"""In the demo (``./dev run``), the page Stripe sends a payer back to works for the demo's own
payments: their checkout session ids have Stripe's shape, so ``/r/paid/`` finds them in the fake
Stripe (which mirrors the demo's payments) instead of saying "We couldn't find that payment"."""

import pytest
from django.core.management import call_command

from registrations.models import Payment
from tests.fakes.serve import mirror_stripe_payments


@pytest.mark.django_db
def test_the_demo_payers_return_page_finds_their_payment(client, fake_stripe):
    call_command("seed_demo", verbosity=0)
    mirror_stripe_payments(fake_stripe)
    payment = (
        Payment.objects.filter(method=Payment.Method.STRIPE, state=Payment.State.PAID, quantity=1)
        .exclude(checkout_session_id="")
        .select_related("event")
        .order_by("pk")
        .first()
    )

    page = client.get(f"/r/paid/?session_id={payment.checkout_session_id}&event={payment.event.slug}", follow=True)

    assert page.status_code == 200
    assert b"couldn't find" not in page.content
