"""A refund from a queue card whose answer was lost, then retried: what Stripe already did from
the card (found by its ``jlf_review_item`` metadata) decides what the retry does and says."""

from __future__ import annotations

import pytest

from registrations.models import Payment, ReviewItem

from .refunding import lose_the_answer, refund_post

pytestmark = pytest.mark.django_db


def test_a_retry_after_a_lost_answer_whose_earlier_refund_failed_does_not_close_the_card_as_refunded(
    ops_client, stripe_world, fake_stripe, htmx_headers, monkeypatch
):
    """Olive's 50.00 refund is made but its answer is lost; the refund then fails at the bank
    (Stripe lists it as ``failed``). Retrying with 60.00 is refused by Stripe (the card's key):
    she must not read that 50.00 was refunded, and the card stays open, since nothing was given
    back."""
    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    lose_the_answer(monkeypatch, ops_client, item, payment, "50", htmx_headers)
    (refund,) = fake_stripe.refunds.values()
    refund["status"] = "failed"
    fake_stripe.charge_for({"payment_intent": payment.payment_intent_id})["amount_refunded"] = 0

    body = refund_post(ops_client, item, payment, "60", htmx_headers()).content.decode()

    assert "already refunded" not in body and "failed" in body and "Nothing was refunded" in body
    assert ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.OPEN
    payment.refresh_from_db()
    assert payment.amount_refunded == 0
    assert len(fake_stripe.refunds) == 1


def test_a_retry_a_day_after_a_lost_answer_does_not_refund_twice_once_stripe_forgot_the_key(
    ops_client, stripe_world, fake_stripe, htmx_headers, monkeypatch
):
    """Olive's 50.00 refund is made but its answer is lost and no webhook told us. She tries again
    the next day, the same 50.00: Stripe prunes idempotency keys once they are 24 hours old and
    would make a second refund under the same key. The retry asks Stripe first, finds the refund
    the card made, records it and closes the card: one refund of 50.00, not two."""
    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    lose_the_answer(monkeypatch, ops_client, item, payment, "50", htmx_headers)
    fake_stripe.idempotency.clear()  # a day later: Stripe no longer knows the key

    body = refund_post(ops_client, item, payment, "50", htmx_headers()).content.decode()

    assert [r["amount"] for r in fake_stripe.refunds.values()] == [5000]
    assert "$50.00" in body and "No second refund was made" in body
    payment.refresh_from_db()
    assert payment.amount_refunded == 5000
    item.refresh_from_db()
    assert (item.state, item.resolution) == ("resolved", "refunded")


def test_the_same_refund_retried_after_a_lost_answer_is_not_called_refunded_when_that_refund_failed(
    ops_client, stripe_world, fake_stripe, htmx_headers, monkeypatch
):
    """Stripe answers a retry under the same key with the answer it saved for the first request (a
    refund then pending), even after that refund failed. The card must not close as refunded."""
    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    lose_the_answer(monkeypatch, ops_client, item, payment, "50", htmx_headers)
    (refund,) = fake_stripe.refunds.values()
    key = next(iter(fake_stripe.idempotency))
    params, status, answer = fake_stripe.idempotency[key]
    fake_stripe.idempotency[key] = (params, status, {**answer, "status": "pending"})  # saved as first answered
    refund["status"] = "failed"
    fake_stripe.charge_for({"payment_intent": payment.payment_intent_id})["amount_refunded"] = 0

    body = refund_post(ops_client, item, payment, "50", htmx_headers()).content.decode()

    assert "failed" in body and "Nothing was refunded" in body and "Refunded $50.00" not in body
    assert ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.OPEN
    payment.refresh_from_db()
    assert payment.amount_refunded == 0


def test_a_retry_after_stripe_really_could_not_be_reached_refunds(ops_client, stripe_world, fake_stripe, htmx_headers):
    """Stripe was down the first time (nothing made): the retry looks for an earlier refund, finds
    none, and refunds."""
    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    fake_stripe.fail_next(2, status=503)  # the SDK's one retry included
    body = refund_post(ops_client, item, payment, "50", htmx_headers()).content.decode()
    assert "Stripe could not be reached" in body and fake_stripe.refunds == {}
    assert fake_stripe.count("POST", r"^/v1/refunds$") == 2

    body = refund_post(ops_client, item, payment, "50", htmx_headers()).content.decode()

    assert "Refunded $50.00" in body
    assert [r["amount"] for r in fake_stripe.refunds.values()] == [5000]
    assert ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.RESOLVED


def test_a_card_that_does_not_know_it_sent_a_refund_still_records_it_when_stripe_refuses_its_key(
    ops_client, stripe_world, fake_stripe, htmx_headers, monkeypatch
):
    """A card sent its refund before cards remembered doing so (or its data was rewritten since):
    no lookup before the retry, so Stripe refuses the key for another amount, and the refund the
    earlier request made is found then, recorded and the card closed."""
    from registrations.resolutions import REFUND_SENT

    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    lose_the_answer(monkeypatch, ops_client, item, payment, "50", htmx_headers)
    item.refresh_from_db()
    item.data.pop(REFUND_SENT)
    item.save(update_fields=["data"])

    body = refund_post(ops_client, item, payment, "60", htmx_headers()).content.decode()

    assert "$50.00" in body and "The $60.00 you entered now was not refunded" in body
    assert [r["amount"] for r in fake_stripe.refunds.values()] == [5000]
    assert fake_stripe.count("POST", r"^/v1/refunds$") == 2
    payment.refresh_from_db()
    assert payment.amount_refunded == 5000
    assert ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.RESOLVED


def test_the_refund_a_card_made_that_stands_is_found_before_one_of_it_that_failed(stripe_world, fake_stripe):
    """Two refunds name the card (the newer one failed, after Stripe forgot the key a day later):
    the lookup answers with the one that gave money back."""
    from integrations.refunds import create_refund, refund_made_from

    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    stands = create_refund(payment, 5000, "key-day-1", review_item=item.pk)
    fell = create_refund(payment, 5000, "key-day-2", review_item=item.pk)
    fake_stripe.refunds[fell["id"]]["status"] = "failed"
    fake_stripe.refunds[fell["id"]]["created"] = stands["created"] + 1  # listed first (newest)

    assert refund_made_from(item.pk, [payment])["id"] == stands["id"]
