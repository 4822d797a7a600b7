"""A refund made in the Stripe Dashboard (not from a queue card) that Stripe then fails (or
cancels): the attendee did not get the money back, and before, only the registration's history
said so. A "Refund failed" card opens in the queue, saying which refund, how much, Stripe's reason
and what to do. Once, however often Stripe's events arrive; it closes by itself when a later
refund gives the money back; a failed refund made from a card reopens that card instead (no second
card)."""

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


def failed(refund: dict, reason: str = "expired_or_canceled_card") -> dict:
    return dict(refund, status="failed", failure_reason=reason)


def _dana(stripe_world):
    """Dana paid twice (the world's duplicate card) and is booked: her first payment is refunded in
    the Stripe Dashboard, in part."""
    item = stripe_world.items[ReviewItem.Kind.DUPLICATE_PAYMENT]
    return item, Payment.objects.get(pk=item.data["first_payment"])


def _failed_refund_cards(payment=None):
    cards = ReviewItem.objects.filter(kind="refund_failed")
    return cards.filter(payment=payment) if payment is not None else cards


def test_a_dashboard_refund_that_fails_opens_a_card_saying_which_refund_how_much_why_and_what_to_do(
    ops_client, stripe_world, fake_stripe, deliver
):
    _, payment = _dana(stripe_world)
    refund = fake_stripe.refund({"payment_intent": payment.payment_intent_id}, amount=4000)
    deliver(stripe_fake.event("refund.created", dict(refund)))
    assert not _failed_refund_cards().exists()

    deliver(stripe_fake.event("refund.failed", failed(refund)))

    (card,) = _failed_refund_cards()
    assert card.state == ReviewItem.State.OPEN and card.payment_id == payment.pk
    assert card.registration_id == payment.registration_id
    text = card.explanation
    assert refund["id"] in text and "40.00 USD" in text and "failed" in text
    assert "Stripe's reason: expired or canceled card" in text
    assert "did not get this money back" in text and "Stripe Dashboard" in text
    page = ops_client.get(reverse("ops:queue") + "?kind=refund_failed").content.decode()
    start = page.index(f'id="item-{card.pk}"')
    html = page[start : page.index("</article>", start)]
    assert "Refund failed" in html and refund["id"] in html and "$40.00" in html
    assert reverse("ops:queue_action", args=[card.pk, "acknowledge"]) in html and "What did you do?" in html
    assert AuditLog.objects.filter(action="review.opened", object_id=str(card.pk)).count() == 1


def test_a_redelivered_or_updated_failure_opens_no_second_card(stripe_world, fake_stripe, deliver):
    _, payment = _dana(stripe_world)
    refund = fake_stripe.refund({"payment_intent": payment.payment_intent_id}, amount=4000)
    evt = stripe_fake.event("refund.failed", failed(refund))
    deliver(evt)
    deliver(evt)
    deliver(stripe_fake.event("refund.updated", failed(refund)))
    deliver(stripe_fake.event("refund.created", dict(refund)))  # late and out of order
    assert _failed_refund_cards().count() == 1
    assert _failed_refund_cards().get().state == ReviewItem.State.OPEN


def test_a_canceled_dashboard_refund_opens_a_card_too(stripe_world, fake_stripe, deliver):
    _, payment = _dana(stripe_world)
    refund = fake_stripe.refund({"payment_intent": payment.payment_intent_id}, amount=4000)
    deliver(stripe_fake.event("refund.updated", dict(refund, status="canceled")))
    (card,) = _failed_refund_cards()
    assert "was canceled" in card.explanation and "Stripe gave no reason" in card.explanation


def test_the_card_closes_by_itself_when_a_later_refund_gives_the_money_back(stripe_world, fake_stripe, deliver):
    _, payment = _dana(stripe_world)
    refund = fake_stripe.refund({"payment_intent": payment.payment_intent_id}, amount=4000)
    deliver(stripe_fake.event("refund.failed", failed(refund)))
    (card,) = _failed_refund_cards()

    again = fake_stripe.refund({"payment_intent": payment.payment_intent_id}, amount=4000)
    again["created"] = refund["created"] + 60
    deliver(stripe_fake.event("refund.created", dict(again)))

    card.refresh_from_db()
    assert card.state == ReviewItem.State.RESOLVED and card.resolution.startswith("auto:")
    # The failure redelivered after that opens nothing again.
    deliver(stripe_fake.event("refund.failed", failed(refund)))
    card.refresh_from_db()
    assert card.state == ReviewItem.State.RESOLVED and _failed_refund_cards().count() == 1


def test_an_acknowledged_card_stays_closed_on_redelivery(ops_client, stripe_world, fake_stripe, deliver, htmx_headers):
    _, payment = _dana(stripe_world)
    refund = fake_stripe.refund({"payment_intent": payment.payment_intent_id}, amount=4000)
    deliver(stripe_fake.event("refund.failed", failed(refund)))
    (card,) = _failed_refund_cards()
    response = ops_client.post(
        reverse("ops:queue_action", args=[card.pk, "acknowledge"]),
        {"note": "Paid Dana back in cash at the door"},
        headers=htmx_headers(),
    )
    assert response.status_code == 200
    card.refresh_from_db()
    assert (card.state, card.resolution) == ("resolved", "acknowledged")
    deliver(stripe_fake.event("refund.failed", failed(refund)))
    card.refresh_from_db()
    assert card.state == ReviewItem.State.RESOLVED and _failed_refund_cards().count() == 1


def test_a_failed_refund_made_from_a_card_reopens_that_card_and_opens_no_other(
    ops_client, stripe_world, fake_stripe, htmx_headers, deliver
):
    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    assert "Refunded $" in refund_post(ops_client, item, payment, "120", htmx_headers()).content.decode()
    refund = list(fake_stripe.refunds.values())[-1]
    deliver(stripe_fake.event("refund.failed", failed(refund)))
    item.refresh_from_db()
    assert item.state == ReviewItem.State.OPEN
    assert not _failed_refund_cards().exists()


def test_a_card_refund_that_failed_while_the_operator_waited_leaves_only_the_card_open(
    ops_client, stripe_world, fake_stripe, htmx_headers, deliver, monkeypatch
):
    """``refund.failed`` of a refund made from a card is processed before the card knew the refund
    (Stripe's pending answer had not reached it yet): that card stays open and says so; no
    "Refund failed" card stays open beside it."""
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
    assert item.state == ReviewItem.State.OPEN and "failed" in body
    assert not _failed_refund_cards().filter(state=ReviewItem.State.OPEN).exists()


def test_a_card_refund_whose_answer_was_lost_and_that_failed_leaves_only_the_card_open(
    ops_client, stripe_world, fake_stripe, htmx_headers, deliver, monkeypatch
):
    """The answer to a card's refund was lost and Stripe failed the refund: its ``refund.failed``
    knows nothing of the card. The next confirm finds the refund (it names the card) and the card
    takes it over; no "Refund failed" card stays open beside it."""
    from .refunding import lose_the_answer

    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    lose_the_answer(monkeypatch, ops_client, item, payment, "120", htmx_headers)
    (refund,) = fake_stripe.refunds.values()
    refund.update(status="failed", failure_reason="declined")
    fake_stripe.charge_for({"payment_intent": payment.payment_intent_id})["amount_refunded"] = 0
    deliver(stripe_fake.event("refund.failed", dict(refund)))

    body = refund_post(ops_client, item, payment, "120", htmx_headers()).content.decode()

    assert "Nothing was refunded" in body
    assert ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.OPEN
    assert not _failed_refund_cards().filter(state=ReviewItem.State.OPEN).exists()


def test_the_card_gives_stripes_reason_when_it_comes_after_the_failure(stripe_world, fake_stripe, deliver):
    _, payment = _dana(stripe_world)
    refund = fake_stripe.refund({"payment_intent": payment.payment_intent_id}, amount=4000)
    deliver(stripe_fake.event("refund.updated", dict(refund, status="failed")))
    assert "Stripe gave no reason" in _failed_refund_cards().get().explanation
    deliver(stripe_fake.event("refund.failed", failed(refund, "lost_or_stolen_card")))
    (card,) = _failed_refund_cards()
    assert "Stripe's reason: lost or stolen card" in card.explanation and "gave no reason" not in card.explanation
