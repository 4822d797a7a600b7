"""A refund made from a queue card closes the card as soon as Stripe answers (often "pending").
When Stripe later fails that refund (``refund.failed`` / ``refund.updated`` with status failed,
carrying ``failure_reason``), the attendee got nothing back: the card opens again and says so, in
whatever order and however often Stripe's events arrive, and a new refund can be made from it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from registrations.models import AuditLog, Payment, ReviewItem
from tests.fakes import stripe as stripe_fake
from tests.intake.conftest import _intake_settings, run_queue, stripe_headers  # noqa: F401 (autouse: webhook settings)

from .refunding import refund_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def deliver(client, fake_stripe):
    """Stripe's webhook: POST the signed event, then run what the worker runs."""

    def deliver(evt):
        body = fake_stripe.body(evt)
        url = reverse("integrations:stripe-webhook")
        assert client.post(url, data=body, content_type="application/json", **stripe_headers(body)).status_code == 200
        run_queue()

    return deliver


def failed(refund: dict, reason: str = "lost_or_stolen_card") -> dict:
    return dict(refund, status="failed", failure_reason=reason)


def open_cases(event) -> int:
    from registrations.ops.stats import event_stats

    return event_stats([event])[event.pk].open_items


def refund_from_card(ops_client, fake_stripe, htmx_headers, item, payment, amount="120"):
    body = refund_post(ops_client, item, payment, amount, htmx_headers()).content.decode()
    assert "Refunded $" in body
    item.refresh_from_db()
    assert (item.state, item.resolution) == ("resolved", "refunded")
    refund = list(fake_stripe.refunds.values())[-1]
    refund["status"] = "pending"
    return refund


def test_a_refund_that_fails_after_the_card_closed_reopens_the_card_saying_it_failed_and_why(
    ops_client, stripe_world, fake_stripe, htmx_headers, deliver
):
    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    refund = refund_from_card(ops_client, fake_stripe, htmx_headers, item, payment)
    cases = f"{open_cases(item.event)} cases to review"
    assert cases in ops_client.get(reverse("ops:dashboard")).content.decode()

    deliver(stripe_fake.event("refund.created", dict(refund)))
    deliver(stripe_fake.event("refund.failed", failed(refund)))

    item.refresh_from_db()
    assert item.state == ReviewItem.State.OPEN
    assert "refund of 120.00 USD" in item.explanation and refund["id"] in item.explanation
    assert "failed" in item.explanation and "lost or stolen" in item.explanation
    payment.refresh_from_db()
    assert payment.amount_refunded == 0
    # The registration's history says so.
    rows = AuditLog.objects.filter(registration=item.registration, action="review.reopened")
    assert rows.count() == 1 and refund["id"] in str(rows.get().after)
    reg = item.registration
    history = ops_client.get(reverse("ops:registration", args=[reg.event.slug, reg.pk])).content.decode()
    assert "Review item reopened" in history and "failed (lost or stolen card)" in history
    # The dashboard counts it again; the queue shows it, with its refund form.
    assert f"{open_cases(item.event)} cases to review" != cases
    assert f"{open_cases(item.event)} cases to review" in ops_client.get(reverse("ops:dashboard")).content.decode()
    page = ops_client.get(reverse("ops:queue")).content.decode()
    assert "lost or stolen" in page and f"/ops/queue/{item.pk}/refund/" in page


def test_a_card_whose_refund_failed_refunds_again_with_a_new_refund(
    ops_client, stripe_world, fake_stripe, htmx_headers, deliver
):
    """Stripe answers the card's first idempotency key with its first answer (the refund that
    failed): the new attempt must reach Stripe as a new request."""
    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    refund = refund_from_card(ops_client, fake_stripe, htmx_headers, item, payment)
    fake_stripe.charge_for({"payment_intent": payment.payment_intent_id})["amount_refunded"] = 0
    refund["status"] = "failed"
    deliver(stripe_fake.event("refund.failed", failed(refund)))

    body = refund_post(ops_client, item, payment, "120", htmx_headers()).content.decode()

    assert "Refunded $120.00" in body
    assert len(fake_stripe.refunds) == 2
    second = list(fake_stripe.refunds.values())[-1]
    assert second["id"] != refund["id"] and second["status"] == "succeeded"
    payment.refresh_from_db()
    assert payment.amount_refunded == 12000
    item.refresh_from_db()
    assert (item.state, item.resolution) == ("resolved", "refunded") and second["id"] in item.resolution_note
    # And if that one fails too, the card opens again.
    deliver(stripe_fake.event("refund.failed", failed(second, "expired_or_canceled_card")))
    item.refresh_from_db()
    assert item.state == ReviewItem.State.OPEN and second["id"] in item.explanation


def test_a_failed_refund_reopens_its_card_once_whatever_the_order_and_redeliveries(
    ops_client, stripe_world, fake_stripe, htmx_headers, deliver
):
    item = stripe_world.items[ReviewItem.Kind.DUPLICATE_PAYMENT]
    payment = item.payment
    refund = refund_from_card(ops_client, fake_stripe, htmx_headers, item, payment)

    failure = stripe_fake.event("refund.updated", failed(refund))
    deliver(failure)
    deliver(failure)  # redelivered
    deliver(stripe_fake.event("refund.created", dict(refund)))  # late, still pending in it
    deliver(stripe_fake.event("refund.failed", failed(refund)))

    item.refresh_from_db()
    assert item.state == ReviewItem.State.OPEN and "failed" in item.explanation
    assert AuditLog.objects.filter(object_id=str(item.pk), action="review.reopened").count() == 1
    assert item.explanation.count(refund["id"]) == 1


def test_a_refund_that_failed_before_the_card_closed_leaves_the_card_open(
    ops_client, stripe_world, fake_stripe, htmx_headers, deliver, monkeypatch
):
    """``refund.failed`` is processed while the operator's request is still waiting for Stripe's
    (pending) answer: the card is not closed as refunded."""
    from registrations.ops import queue as queue_views

    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    real_create_refund = queue_views.create_refund

    def failed_meanwhile(*args, **kwargs):
        answer = real_create_refund(*args, **kwargs)
        deliver(stripe_fake.event("refund.failed", failed(answer, "declined")))
        return dict(answer, status="pending")

    monkeypatch.setattr(queue_views, "create_refund", failed_meanwhile)
    body = refund_post(ops_client, item, payment, "120", htmx_headers()).content.decode()

    item.refresh_from_db()
    assert item.state == ReviewItem.State.OPEN
    assert "failed" in body and "declined" in body
    payment.refresh_from_db()
    assert payment.amount_refunded == 0


def test_a_card_kept_as_credit_is_not_reopened_by_an_old_failed_refund(stripe_world, fake_stripe, deliver):
    """A refund made in the Stripe Dashboard (not from a card) that fails reopens no card."""
    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    from registrations.audit import SYSTEM
    from registrations.resolutions import keep_as_credit

    keep_as_credit(item.pk, SYSTEM, "credit")
    refund = fake_stripe.refund({"payment_intent": payment.payment_intent_id})
    deliver(stripe_fake.event("refund.failed", failed(refund)))
    item.refresh_from_db()
    assert (item.state, item.resolution) == ("resolved", "kept_as_credit")
