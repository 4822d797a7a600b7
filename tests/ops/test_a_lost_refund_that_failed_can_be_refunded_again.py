"""A refund from a queue card whose answer was lost, and which Stripe then failed: the retry finds
it (``jlf_review_item`` metadata) and says nothing was refunded. The card is not a dead end: the
next confirm sends a new refund (a new attempt with its own idempotency key, as for a card that a
failed refund reopened), and never a second one while the first stands."""

from __future__ import annotations

import pytest

from registrations.models import Payment, ReviewItem

from .refunding import lose_the_answer, refund_post

pytestmark = pytest.mark.django_db


def test_a_card_whose_lost_refund_failed_refunds_with_a_new_refund_on_the_next_confirm(
    ops_client, stripe_world, fake_stripe, htmx_headers, monkeypatch
):
    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    lose_the_answer(monkeypatch, ops_client, item, payment, "50", htmx_headers)
    (first,) = fake_stripe.refunds.values()
    first["status"] = "failed"
    fake_stripe.charge_for({"payment_intent": payment.payment_intent_id})["amount_refunded"] = 0

    body = refund_post(ops_client, item, payment, "50", htmx_headers()).content.decode()
    assert "failed" in body and "Nothing was refunded" in body and "Refund again" in body
    assert len(fake_stripe.refunds) == 1 and ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.OPEN

    body = refund_post(ops_client, item, payment, "50", htmx_headers()).content.decode()

    assert "Refunded $50.00" in body
    assert len(fake_stripe.refunds) == 2
    second = list(fake_stripe.refunds.values())[-1]
    assert second["id"] != first["id"] and second["status"] == "succeeded"
    item.refresh_from_db()
    assert (item.state, item.resolution) == ("resolved", "refunded") and second["id"] in item.resolution_note
    payment.refresh_from_db()
    assert payment.amount_refunded == 5000
    # A double click on that confirm (same attempt) makes no third refund.
    refund_post(ops_client, item, payment, "50", htmx_headers())
    assert len(fake_stripe.refunds) == 2


def test_a_lost_refund_that_failed_is_not_refunded_again_while_another_refund_of_the_card_stands(
    ops_client, stripe_world, fake_stripe, htmx_headers, monkeypatch
):
    """Two refunds name the card, one failed and one that stands: the retry records the one that
    stands and closes the card; nothing new is sent."""
    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    lose_the_answer(monkeypatch, ops_client, item, payment, "50", htmx_headers)
    (first,) = fake_stripe.refunds.values()
    first["status"] = "failed"
    fake_stripe.charge_for({"payment_intent": payment.payment_intent_id})["amount_refunded"] = 0
    refund_post(ops_client, item, payment, "50", htmx_headers())  # finds the failed one
    lose_the_answer(monkeypatch, ops_client, item, payment, "50", htmx_headers)  # the new attempt, lost too
    assert len(fake_stripe.refunds) == 2

    body = refund_post(ops_client, item, payment, "50", htmx_headers()).content.decode()

    assert "No second refund was made" in body
    assert len(fake_stripe.refunds) == 2
    assert ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.RESOLVED
