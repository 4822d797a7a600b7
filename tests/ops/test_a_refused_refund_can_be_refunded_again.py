"""A refund that Stripe refuses with a definite answer (a 4xx it saves under the idempotency key,
such as "the charge is already refunded" for more than is left) made no refund. Stripe answers that
key with the same refusal for 24 hours, even once the cause is gone (docs.stripe.com/error-low-level:
correct the request and use a new key). So the refusal ends the card's attempt: the next confirm
(with the amount corrected, or after the cause is gone) is a new request with a key of its own,
and refunds once. A lost answer, a timeout, a 5xx or a 429 says nothing of what Stripe did: the
next confirm keeps the same key, which is what keeps a refund from being made twice."""

from __future__ import annotations

import html

import pytest

from integrations.clients import ProviderError
from integrations.refunds import create_refund
from registrations.models import Payment, Refund, ReviewItem

from .refunding import refund_post

pytestmark = pytest.mark.django_db


def _refund_keys(fake_stripe) -> list[str]:
    return [
        r.headers.get("idempotency-key") for r in fake_stripe.requests if r.method == "POST" and r.path == "/v1/refunds"
    ]


def _card_refunds(fake_stripe, item) -> list[dict]:
    return [r for r in fake_stripe.refunds.values() if r["metadata"].get("jlf_review_item") == str(item.pk)]


def test_stripe_answers_a_refused_refunds_key_with_the_same_refusal_even_once_the_cause_is_gone(
    stripe_world, fake_stripe
):
    """The fake Stripe saves a refusal made while executing under its key, as Stripe does."""
    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    charge = fake_stripe.charge_for({"payment_intent": payment.payment_intent_id})
    charge["amount_refunded"] = 12000
    with pytest.raises(ProviderError) as first:
        create_refund(payment, 12000, "key-refused-once")
    charge["amount_refunded"] = 0  # the cause is gone
    with pytest.raises(ProviderError) as again:
        create_refund(payment, 12000, "key-refused-once")
    assert first.value.status == again.value.status == 400 and not again.value.reused_key
    assert fake_stripe.refunds == {}
    assert create_refund(payment, 12000, "a-new-key")["status"] == "succeeded"


def test_a_refund_stripe_refused_for_its_amount_refunds_the_corrected_amount_on_the_next_confirm(
    ops_client, stripe_world, fake_stripe, htmx_headers
):
    """$70 of the $120 payment was refunded in the Stripe Dashboard and its webhook has not arrived:
    the card still offers $120, and Stripe refuses it. The operator corrects the amount to $50."""
    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    fake_stripe.refund({"payment_intent": payment.payment_intent_id}, amount=7000)

    body = html.unescape(refund_post(ops_client, item, payment, "120", htmx_headers()).content.decode())

    assert "Stripe refused the refund: " in body and "Nothing was refunded" in body
    assert "charge's remaining amount" in body  # what Stripe answered
    assert "safe to refund again" in body and "could not be reached" not in body
    assert ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.OPEN

    body = html.unescape(refund_post(ops_client, item, payment, "50", htmx_headers()).content.decode())

    assert "Refunded $50.00" in body
    (made,) = _card_refunds(fake_stripe, item)
    assert made["amount"] == 5000
    assert list(Refund.objects.filter(payment=payment).values_list("refund_id", flat=True)) == [made["id"]]
    payment.refresh_from_db()
    assert payment.amount_refunded == 5000
    item.refresh_from_db()
    assert (item.state, item.resolution) == ("resolved", "refunded")
    first_key, second_key = _refund_keys(fake_stripe)
    assert first_key != second_key

    # A double click on that confirm (same attempt) makes no second refund.
    refund_post(ops_client, item, payment, "50", htmx_headers())
    assert len(_card_refunds(fake_stripe, item)) == 1


@pytest.mark.parametrize("fault", [{"n": 2, "status": 500}, {"n": 1, "status": 429}])
def test_a_refund_stripe_did_not_answer_is_asked_again_with_the_same_key(
    ops_client, stripe_world, fake_stripe, htmx_headers, fault
):
    """A 5xx or a 429 is not Stripe's answer to the refund: the next confirm keeps the key (had the
    refund been made, Stripe would answer it again instead of refunding twice)."""
    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    fake_stripe.fail_next(**fault)
    body = html.unescape(refund_post(ops_client, item, payment, "120", htmx_headers()).content.decode())
    assert "Stripe could not be reached" in body and "Stripe refused" not in body

    body = html.unescape(refund_post(ops_client, item, payment, "120", htmx_headers()).content.decode())

    assert "Refunded $120.00" in body
    keys = _refund_keys(fake_stripe)
    assert len(keys) == fault["n"] + 1 and len(set(keys)) == 1
    assert len(_card_refunds(fake_stripe, item)) == 1


def test_a_refund_whose_answer_timed_out_is_asked_again_with_the_same_key(
    ops_client, stripe_world, fake_stripe, htmx_headers, monkeypatch
):
    """The refund was made but its answer timed out: the next confirm uses the same key (Stripe
    would answer it with that refund) and makes no second refund."""
    from registrations.ops import queue as queue_views

    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    real_create_refund = queue_views.create_refund
    used = []

    def timed_out(payment, amount, key, **kwargs):
        used.append(key)
        real_create_refund(payment, amount, key, **kwargs)
        raise ProviderError("stripe", "Read timed out")

    monkeypatch.setattr(queue_views, "create_refund", timed_out)
    # The card's earlier refund is not listed yet (Stripe's list lags): the key is what protects.
    monkeypatch.setattr(queue_views, "refund_made_from", lambda *a, **k: None)
    body = html.unescape(refund_post(ops_client, item, payment, "120", htmx_headers()).content.decode())
    assert "Stripe could not be reached" in body
    body = html.unescape(refund_post(ops_client, item, payment, "120", htmx_headers()).content.decode())
    assert "Stripe could not be reached" in body
    assert len(used) == 2 and used[0] == used[1]
    assert len(_card_refunds(fake_stripe, item)) == 1


def test_a_card_error_says_stripe_refused_and_the_next_confirm_is_a_new_request(
    ops_client, stripe_world, fake_stripe, htmx_headers
):
    """A card error (402) is Stripe's answer, not an unreachable Stripe: the card says what Stripe
    said, and the next confirm refunds under a new key."""
    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    fake_stripe.fail_next(
        1,
        status=402,
        body={"error": {"type": "card_error", "code": "expired_card", "message": "The card has expired."}},
    )
    body = html.unescape(refund_post(ops_client, item, payment, "120", htmx_headers()).content.decode())
    assert "Stripe refused the refund: The card has expired. Nothing was refunded" in body
    assert "could not be reached" not in body and "safe to refund again" in body

    body = html.unescape(refund_post(ops_client, item, payment, "120", htmx_headers()).content.decode())

    assert "Refunded $120.00" in body
    first_key, second_key = _refund_keys(fake_stripe)
    assert first_key != second_key and len(_card_refunds(fake_stripe, item)) == 1


def test_a_duplicate_card_refused_for_one_payment_refunds_that_payment_on_the_next_confirm(
    ops_client, stripe_world, fake_stripe, htmx_headers
):
    """The refusal opens a new attempt for the payment Stripe refused (the other payment of the
    card stays under the refused key: see test_ops_refunds)."""
    item = stripe_world.items[ReviewItem.Kind.DUPLICATE_PAYMENT]
    charge = fake_stripe.charge_for({"payment_intent": item.payment.payment_intent_id})
    charge["amount_refunded"] = 12000
    body = html.unescape(refund_post(ops_client, item, item.payment, "120", htmx_headers()).content.decode())
    assert "Stripe refused the refund: " in body and "safe to refund again" in body
    charge["amount_refunded"] = 0  # e.g. that Dashboard refund failed

    body = html.unescape(refund_post(ops_client, item, item.payment, "120", htmx_headers()).content.decode())

    assert "Refunded $120.00" in body
    assert len(_card_refunds(fake_stripe, item)) == 1
    assert Refund.objects.filter(payment=item.payment).count() == 1


def test_two_requests_refused_in_one_attempt_end_it_once(stripe_world, operator):
    """A double click whose two requests both got Stripe's refusal ends one attempt: the next
    confirm uses the second attempt's key, not the third's."""
    from registrations.audit import Actor
    from registrations.detection import refund_attempt
    from registrations.resolutions import note_refund_refused

    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    actor = Actor.operator(operator)
    assert note_refund_refused(item.pk, 1, item.payment_id or 0, "No.", actor, sent_before=False)
    assert not note_refund_refused(item.pk, 1, item.payment_id or 0, "No.", actor, sent_before=True)
    item.refresh_from_db()
    assert refund_attempt(item) == 2
