"""A confirm still in flight from before a card's refund failed (a double click, a second operator)
gets Stripe's old answer for the old key: the refund that failed, already counted on the card. It
must not make the card forget that its new attempt sent a refund whose answer was lost: a day
later, when Stripe no longer knows the new attempt's key, a confirm asks Stripe first and makes no
second refund."""

from __future__ import annotations

import pytest
from django.urls import reverse

from registrations.audit import SYSTEM
from registrations.models import Payment, ReviewItem
from registrations.resolutions import resolve_refunded
from tests.fakes import stripe as stripe_fake
from tests.intake.conftest import _intake_settings, run_queue, stripe_headers  # noqa: F401 (autouse: webhook settings)

from .refunding import refund_post

pytestmark = pytest.mark.django_db


def test_a_stale_confirm_answered_with_the_failed_refund_leaves_the_new_attempts_refund_findable(
    client, ops_client, stripe_world, fake_stripe, htmx_headers, monkeypatch
):
    from integrations.clients import ProviderError
    from registrations.ops import queue as queue_views

    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    assert "Refunded $" in refund_post(ops_client, item, payment, "120", htmx_headers()).content.decode()
    first = list(fake_stripe.refunds.values())[-1]
    first["status"] = "failed"
    fake_stripe.charge_for({"payment_intent": payment.payment_intent_id})["amount_refunded"] = 0
    raw = fake_stripe.body(stripe_fake.event("refund.failed", dict(first, failure_reason="declined")))
    url = reverse("integrations:stripe-webhook")
    assert client.post(url, data=raw, content_type="application/json", **stripe_headers(raw)).status_code == 200
    run_queue()
    assert ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.OPEN

    # The reopened card refunds again (50.00 this time); Stripe makes the refund, but its answer is lost.
    real_create_refund = queue_views.create_refund

    def answer_lost(*args, **kwargs):
        real_create_refund(*args, **kwargs)
        raise ProviderError("stripe", "Read timed out")

    monkeypatch.setattr(queue_views, "create_refund", answer_lost)
    assert (
        "Stripe could not be reached" in refund_post(ops_client, item, payment, "50", htmx_headers()).content.decode()
    )
    monkeypatch.setattr(queue_views, "create_refund", real_create_refund)
    assert len(fake_stripe.refunds) == 2

    # The stale confirm: Stripe answered the old key with the first refund (which has failed).
    resolve_refunded(item.pk, SYSTEM, refund_id=first["id"], amount=12000, payment=payment)
    assert ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.OPEN

    fake_stripe.idempotency.clear()  # a day later: Stripe no longer knows the keys
    body = refund_post(ops_client, item, payment, "50", htmx_headers()).content.decode()

    assert len(fake_stripe.refunds) == 2
    assert "No second refund was made" in body


def test_a_stale_confirm_on_a_card_that_closed_by_itself_since_is_not_told_it_refunded(
    client, ops_client, stripe_world, fake_stripe, htmx_headers, monkeypatch
):
    """While this confirm waits for Stripe, another confirm of the card refunds (same key), closes
    the card, the refund fails (the card reopens) and the payment is refunded in the Stripe
    Dashboard (the card closes by itself). Stripe then answers this confirm with the refund that
    failed: the operator must not read "Refunded", and the card stays as it is."""
    from registrations.ops import queue as queue_views

    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    real_create_refund = queue_views.create_refund
    url = reverse("integrations:stripe-webhook")

    def deliver(evt):
        raw = fake_stripe.body(evt)
        assert client.post(url, data=raw, content_type="application/json", **stripe_headers(raw)).status_code == 200
        run_queue()

    def meanwhile(*args, **kwargs):
        answer = real_create_refund(*args, **kwargs)
        queue_views._record_refund(item, SYSTEM, payment, answer, 12000)  # the other confirm
        resolve_refunded(item.pk, SYSTEM, refund_id=answer["id"], amount=12000, payment=payment)
        fake_stripe.refunds[answer["id"]]["status"] = "failed"
        fake_stripe.charge_for({"payment_intent": payment.payment_intent_id})["amount_refunded"] = 0
        deliver(stripe_fake.event("refund.failed", dict(answer, status="failed", failure_reason="declined")))
        deliver(stripe_fake.event("refund.created", fake_stripe.refund({"payment_intent": payment.payment_intent_id})))
        return dict(answer, status="pending")  # Stripe's first answer for the key

    monkeypatch.setattr(queue_views, "create_refund", meanwhile)
    body = refund_post(ops_client, item, payment, "120", htmx_headers()).content.decode()

    assert "Refunded $120.00" not in body and "failed already" in body
    item.refresh_from_db()
    assert item.state == ReviewItem.State.RESOLVED and item.resolution.startswith("auto:")
