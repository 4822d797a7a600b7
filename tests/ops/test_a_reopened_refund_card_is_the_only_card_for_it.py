"""A paid-but-cancelled card closed with a refund that Stripe fails later opens again. If the
attendee booked and cancelled again meanwhile (while the refund stood, so no card was due then),
the reopened card is the one card about their money: no second paid-but-cancelled card opens next
to it (two cards about one payment invite two refunds of it)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from registrations.models import Payment, ReviewItem
from tests.fakes import stripe as stripe_fake
from tests.intake.conftest import _intake_settings, run_queue, stripe_headers  # noqa: F401 (autouse: webhook settings)
from tests.ops.scenario import book

pytestmark = pytest.mark.django_db


def test_a_card_reopened_by_a_failed_refund_after_a_rebooking_is_the_only_open_card_about_the_payment(
    client, ops_client, stripe_world, fake_stripe, htmx_headers
):
    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    reg = item.registration
    payment = Payment.objects.get(registration=reg, method="stripe")
    data = {"payment": payment.pk, "amount": "120", "confirm": "1"}
    body = ops_client.post(reverse("ops:queue_action", args=[item.pk, "refund"]), data, headers=htmx_headers())
    assert "Refunded $" in body.content.decode()
    refund = list(fake_stripe.refunds.values())[-1]
    # Carl books again and cancels again while the refund stands.
    book("carl.cancel@example.org", "Carl", "Cancel", source_id=987654, event=reg.event)
    book("carl.cancel@example.org", "Carl", "Cancel", source_id=987654, status="cancelled", event=reg.event)
    assert not ReviewItem.objects.filter(registration=reg, state=ReviewItem.State.OPEN).exists()

    evt = stripe_fake.event("refund.failed", dict(refund, status="failed", failure_reason="lost_or_stolen_card"))
    raw = fake_stripe.body(evt)
    url = reverse("integrations:stripe-webhook")
    assert client.post(url, data=raw, content_type="application/json", **stripe_headers(raw)).status_code == 200
    run_queue()

    open_cards = ReviewItem.objects.filter(
        registration=reg, kind=ReviewItem.Kind.PAID_CANCELLED, state=ReviewItem.State.OPEN
    )
    assert [c.pk for c in open_cards] == [item.pk]
