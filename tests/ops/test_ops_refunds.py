"""Refunds from the queue go through the real Stripe SDK to the fake Stripe: a confirm step shows
the amount first, a double click never refunds twice (idempotency key from item + amount), the
refund is in the facts at once (the later webhook is a no-op), and walk-in money is never sent
to Stripe."""

from __future__ import annotations

import pytest
from django.urls import reverse

from integrations.parsing import refund_to_signal
from registrations.models import AuditLog, Payment, Refund, Registration, ReviewItem, Status
from registrations.services import apply_payment

from .refunding import refund_post

pytestmark = pytest.mark.django_db


def test_refunding_a_duplicate_shows_the_amount_then_refunds_once(ops_client, stripe_world, fake_stripe, htmx_headers):
    item = stripe_world.items[ReviewItem.Kind.DUPLICATE_PAYMENT]
    payment = item.payment
    step1 = refund_post(ops_client, item, payment, "120.00", htmx_headers(), confirm=False).content.decode()
    assert "Refund $120.00?" in step1 and "Confirm refund of $120.00" in step1
    assert fake_stripe.refunds == {}  # nothing sent yet

    done = refund_post(ops_client, item, payment, "120.00", htmx_headers()).content.decode()
    assert "Refunded $120.00 to Dana Double" in done
    assert len(fake_stripe.refunds) == 1
    (refund,) = fake_stripe.refunds.values()
    assert refund["amount"] == 12000 and refund["payment_intent"] == payment.payment_intent_id

    payment.refresh_from_db()
    assert payment.amount_refunded == 12000
    assert Refund.objects.get(refund_id=refund["id"]).amount == 12000
    item.refresh_from_db()
    assert (item.state, item.resolution) == ("resolved", "refunded")
    reg = Registration.objects.get(attendee__email="dana.double@example.org")
    assert reg.status == Status.COMPLETE  # the first payment still stands
    assert AuditLog.objects.filter(action="payment.refund_recorded", actor_type="operator").exists()
    assert AuditLog.objects.filter(action="review.resolved.refunded", actor_type="operator").exists()

    # The refund.created webhook arriving later changes nothing.
    before = Refund.objects.count()
    result = apply_payment(refund_to_signal(refund, raw_ref="evt_refund_created"))
    assert result.noop and Refund.objects.count() == before


def test_a_double_click_on_confirm_never_refunds_twice(ops_client, stripe_world, fake_stripe, htmx_headers):
    item = stripe_world.items[ReviewItem.Kind.DUPLICATE_PAYMENT]
    first = refund_post(ops_client, item, item.payment, "120.00", htmx_headers())
    second = refund_post(ops_client, item, item.payment, "120.00", htmx_headers())
    assert first.status_code == second.status_code == 200
    assert "Already resolved (refunded)" in second.content.decode()
    assert len(fake_stripe.refunds) == 1


def test_the_same_refund_request_reaching_stripe_twice_returns_the_same_refund(stripe_world, fake_stripe):
    """Two requests racing past the open-item check still send one idempotency key."""
    from integrations.refunds import create_refund
    from registrations.resolutions import refund_idempotency_key

    item = stripe_world.items[ReviewItem.Kind.DUPLICATE_PAYMENT]
    key = refund_idempotency_key(item.pk, item.payment.pk)
    a = create_refund(item.payment, 12000, key)
    b = create_refund(item.payment, 12000, key)
    assert a["id"] == b["id"] and len(fake_stripe.refunds) == 1


def test_another_amount_under_a_used_refund_key_is_refused_by_stripe_not_answered_with_the_first_refund(
    stripe_world, fake_stripe
):
    """Like Stripe: a key first used with other parameters gets a 400 idempotency_error (and no
    refund), not the first refund as if it were the answer to this request."""
    from integrations.clients import ProviderError
    from integrations.refunds import create_refund
    from registrations.resolutions import refund_idempotency_key

    item = stripe_world.items[ReviewItem.Kind.DUPLICATE_PAYMENT]
    key = refund_idempotency_key(item.pk, item.payment.pk)
    create_refund(item.payment, 5000, key)
    with pytest.raises(ProviderError) as refused:
        create_refund(item.payment, 6000, key)  # a retry with another amount after an unknown outcome
    assert refused.value.reused_key and refused.value.permanent and refused.value.status == 400
    assert [r["amount"] for r in fake_stripe.refunds.values()] == [5000]


def test_a_partial_refund_of_a_cancelled_payment(ops_client, stripe_world, fake_stripe, htmx_headers):
    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    page = ops_client.get(reverse("ops:queue")).content.decode()
    assert 'name="amount" inputmode="decimal" value="120.00"' in page
    body = refund_post(ops_client, item, payment, "50", htmx_headers()).content.decode()
    assert "Refunded $50.00" in body
    payment.refresh_from_db()
    assert payment.amount_refunded == 5000
    reg = item.registration
    reg.refresh_from_db()
    assert reg.status == Status.PAID_ONLY  # still holds 70.00; the item is closed


def test_a_full_refund_of_a_cancelled_payment_ends_refunded(ops_client, stripe_world, fake_stripe, htmx_headers):
    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    body = refund_post(ops_client, item, payment, "120", htmx_headers()).content.decode()
    assert "Refunded $120.00" in body
    item.refresh_from_db()
    # The refund fact auto-closed the condition; the operator's resolution replaces it.
    assert (item.state, item.resolution) == ("resolved", "refunded")
    item.registration.refresh_from_db()
    assert item.registration.status == Status.REFUNDED


def test_refunding_more_than_what_is_left_is_refused_before_stripe_is_called(
    ops_client, stripe_world, fake_stripe, htmx_headers
):
    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    body = refund_post(ops_client, item, payment, "120.01", htmx_headers(), confirm=False).content.decode()
    assert "At most $120.00 is left to refund" in body
    for bad, message in (("0", "more than zero"), ("abc", "Type an amount like 120"), ("-5", "cannot be negative")):
        body = refund_post(ops_client, item, payment, bad, htmx_headers()).content.decode()
        assert message in body, bad
    assert fake_stripe.refunds == {}


def test_a_payment_of_another_item_cannot_be_refunded_from_this_one(ops_client, stripe_world, htmx_headers):
    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    other = stripe_world.items[ReviewItem.Kind.DUPLICATE_PAYMENT].payment
    body = refund_post(ops_client, item, other, "10", htmx_headers()).content.decode()
    assert "does not belong to this review item" in body


def test_stripe_refusing_the_refund_changes_nothing_and_says_so(ops_client, stripe_world, fake_stripe, htmx_headers):
    item = stripe_world.items[ReviewItem.Kind.DUPLICATE_PAYMENT]
    fake_stripe.charge_for({"payment_intent": item.payment.payment_intent_id})["amount_refunded"] = 12000
    body = refund_post(ops_client, item, item.payment, "120", htmx_headers()).content.decode()
    assert "Stripe refused the refund" in body and "Nothing was refunded" in body
    item.refresh_from_db()
    assert item.state == ReviewItem.State.OPEN
    assert Payment.objects.get(pk=item.payment_id).amount_refunded == 0


def test_stripe_being_down_says_try_again_safely(ops_client, stripe_world, fake_stripe, htmx_headers):
    item = stripe_world.items[ReviewItem.Kind.DUPLICATE_PAYMENT]
    fake_stripe.fail_next(3, status=500)
    body = refund_post(ops_client, item, item.payment, "120", htmx_headers()).content.decode()
    assert "Stripe could not be reached" in body and "never made twice" in body
    assert ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.OPEN


def test_walk_in_money_is_never_sent_to_stripe(ops_client, event, operator, fake_stripe, htmx_headers):
    from registrations.audit import Actor
    from registrations.services import enter_walk_in

    from .scenario import book

    reg = enter_walk_in(
        event=event,
        email="wally@example.org",
        name="Wally Walkin",
        method="cash",
        amount=12000,
        actor=Actor.operator(operator),
    )
    book("wally@example.org", "Wally", "Walkin", status="cancelled", event=event)
    reg.bookings.update(cancelled=True)
    from registrations.services import recompute

    recompute(reg)
    item = ReviewItem.objects.get(kind=ReviewItem.Kind.PAID_CANCELLED, registration=reg)
    page = ops_client.get(reverse("ops:queue")).content.decode()
    assert "cannot be refunded through Stripe" in page
    cash = Payment.objects.get(registration=reg, method="cash")
    body = refund_post(ops_client, item, cash, "120", htmx_headers()).content.decode()
    assert "not through Stripe" in body
    assert fake_stripe.refunds == {}


def test_without_javascript_the_confirm_step_is_its_own_page(ops_client, stripe_world, fake_stripe):
    item = stripe_world.items[ReviewItem.Kind.DUPLICATE_PAYMENT]
    response = ops_client.post(
        reverse("ops:queue_action", args=[item.pk, "refund"]), {"payment": item.payment.pk, "amount": "120"}
    )
    assert response.status_code == 200
    assert "Confirm the refund" in response.content.decode()
    assert fake_stripe.refunds == {}


def test_stripe_refusing_a_reused_idempotency_key_says_so_instead_of_try_again(
    ops_client, stripe_world, fake_stripe, htmx_headers
):
    """Another amount under the key of an earlier request from this card: Stripe answers 400
    idempotency_error, and so will every retry. Stripe lists no refund made from this card, so
    nothing was refunded, and the way out is the Stripe Dashboard."""
    from registrations.resolutions import refund_idempotency_key
    from tests.fakes import stripe as stripe_fake

    item = stripe_world.items[ReviewItem.Kind.DUPLICATE_PAYMENT]
    key = refund_idempotency_key(item.pk, item.payment.pk)
    fake_stripe.fail_next(1, status=400, body=stripe_fake.idempotency_error(key))

    body = refund_post(ops_client, item, item.payment, "120", htmx_headers()).content.decode()

    assert "Stripe refused the refund" in body and "could not be reached" not in body and "Try again" not in body
    assert "Nothing was refunded" in body and "idempotency key" in body and "Stripe Dashboard" in body
    assert ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.OPEN
    assert Payment.objects.get(pk=item.payment_id).amount_refunded == 0
    assert fake_stripe.count("POST", r"^/v1/refunds$") == 1


def test_a_refused_refund_key_whose_earlier_outcome_cannot_be_looked_up_claims_nothing(
    ops_client, stripe_world, fake_stripe, htmx_headers
):
    """Stripe refuses the card's key and then cannot be reached to list the payment's refunds:
    the operator is told no new refund was made and to check the Dashboard, neither "nothing was
    refunded" (an earlier request may have refunded) nor "try again"."""
    from registrations.resolutions import refund_idempotency_key
    from tests.fakes import stripe as stripe_fake

    item = stripe_world.items[ReviewItem.Kind.DUPLICATE_PAYMENT]
    key = refund_idempotency_key(item.pk, item.payment.pk)
    fake_stripe.fail_next(1, status=400, body=stripe_fake.idempotency_error(key))
    fake_stripe.fail_next(5, status=500)

    body = refund_post(ops_client, item, item.payment, "120", htmx_headers()).content.decode()

    assert "Stripe refused the refund" in body and "No new refund was made" in body
    assert "Nothing was refunded" not in body and "Try again" not in body
    assert "check the payment&#x27;s refunds in the Stripe Dashboard" in body
    assert ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.OPEN


def test_a_duplicate_card_can_refund_the_first_payment_instead_of_the_second(
    ops_client, stripe_world, fake_stripe, htmx_headers
):
    """Dana paid twice and asks for the first payment back (it went on the card she wants
    refunded): the card offers both, and refunding the first keeps her registration paid by the
    second and closes the card."""
    item = stripe_world.items[ReviewItem.Kind.DUPLICATE_PAYMENT]
    first = Payment.objects.get(pk=item.data["first_payment"])
    page = ops_client.get(reverse("ops:queue")).content.decode()
    assert "Refund the second payment ($120.00)…" in page and "Refund the first payment ($120.00)…" in page

    done = refund_post(ops_client, item, first, "120.00", htmx_headers()).content.decode()
    assert "Refunded $120.00 to Dana Double" in done
    (refund,) = fake_stripe.refunds.values()
    assert refund["payment_intent"] == first.payment_intent_id
    first.refresh_from_db()
    item.refresh_from_db()
    assert first.amount_refunded == 12000 and (item.state, item.resolution) == ("resolved", "refunded")
    item.payment.refresh_from_db()
    assert item.payment.amount_refunded == 0
    assert Registration.objects.get(attendee__email="dana.double@example.org").status == Status.COMPLETE
    # The second payment cannot be refunded from this card any more: it is resolved.
    again = refund_post(ops_client, item, item.payment, "120.00", htmx_headers()).content.decode()
    assert "Already resolved (refunded)" in again and len(fake_stripe.refunds) == 1


def test_two_operators_refunding_different_payments_of_one_duplicate_card_refund_only_one(
    ops_client, stripe_world, fake_stripe, htmx_headers, monkeypatch
):
    """Dana paid twice. Olive confirms "Refund the second payment" while a colleague, on the
    same card in another tab, confirms "Refund the first payment": Dana gets one payment back,
    not both (the card names one refund), and the colleague is told a refund from this card
    already stands."""
    from registrations.ops import queue as queue_views

    item = stripe_world.items[ReviewItem.Kind.DUPLICATE_PAYMENT]
    first = Payment.objects.get(pk=item.data["first_payment"])
    real_create_refund = queue_views.create_refund
    calls = []

    def colleague_confirms_meanwhile(payment, amount, key, **kwargs):
        calls.append(payment.pk)
        if len(calls) == 1:  # Olive's call to Stripe is in flight: the card is still open
            refund_post(ops_client, item, first, "120.00", htmx_headers())
        return real_create_refund(payment, amount, key, **kwargs)

    monkeypatch.setattr(queue_views, "create_refund", colleague_confirms_meanwhile)
    refund_post(ops_client, item, item.payment, "120.00", htmx_headers())

    assert len(fake_stripe.refunds) == 1
    first.refresh_from_db()
    item.payment.refresh_from_db()
    assert first.amount_refunded + item.payment.amount_refunded == 12000
    assert Registration.objects.get(attendee__email="dana.double@example.org").status == Status.COMPLETE


def test_retrying_a_refund_with_another_amount_after_a_lost_answer_records_the_refund_stripe_made(
    ops_client, stripe_world, fake_stripe, htmx_headers, monkeypatch
):
    """Olive confirms a 50.00 refund; Stripe makes it but the answer is lost on the way back
    ("could not be reached"). She retries with 60.00: Stripe refuses the card's key with another
    amount. She is told the 50.00 refund stands and it is recorded at once (the card closes); the
    60.00 was not refunded, and nothing is refunded twice."""
    from integrations.clients import ProviderError
    from registrations.ops import queue as queue_views

    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    real_create_refund = queue_views.create_refund

    def answer_lost(*args, **kwargs):
        real_create_refund(*args, **kwargs)
        raise ProviderError("stripe", "Read timed out")

    monkeypatch.setattr(queue_views, "create_refund", answer_lost)
    body = refund_post(ops_client, item, payment, "50", htmx_headers()).content.decode()
    assert "Stripe could not be reached" in body
    monkeypatch.setattr(queue_views, "create_refund", real_create_refund)

    body = refund_post(ops_client, item, payment, "60", htmx_headers()).content.decode()
    assert "$50.00" in body and "$60.00" in body and "was not refunded" in body
    assert [r["amount"] for r in fake_stripe.refunds.values()] == [5000]
    payment.refresh_from_db()
    assert payment.amount_refunded == 5000
    item.refresh_from_db()
    assert (item.state, item.resolution) == ("resolved", "refunded")
    assert AuditLog.objects.filter(action="payment.refund_recorded", actor_type="operator").exists()


def test_a_duplicate_card_whose_refund_stripe_refused_does_not_claim_a_refund_when_the_other_payment_is_chosen(
    ops_client, stripe_world, fake_stripe, htmx_headers
):
    """Stripe refuses the refund of the second payment (already refunded in the Dashboard, say) and
    keeps that answer under the card's key. Refunding the first payment instead shares the key, so
    Stripe refuses it too: the operator is told nothing was refunded and what to do, not that an
    earlier refund from this card stands."""
    item = stripe_world.items[ReviewItem.Kind.DUPLICATE_PAYMENT]
    first = Payment.objects.get(pk=item.data["first_payment"])
    fake_stripe.charge_for({"payment_intent": item.payment.payment_intent_id})["amount_refunded"] = 12000
    body = refund_post(ops_client, item, item.payment, "120", htmx_headers()).content.decode()
    assert "Nothing was refunded" in body

    body = refund_post(ops_client, item, first, "120", htmx_headers()).content.decode()
    assert "Stripe refused the refund" in body and "Nothing was refunded" in body
    assert "stands" not in body and "Stripe Dashboard" in body
    assert fake_stripe.refunds == {}
    first.refresh_from_db()
    assert first.amount_refunded == 0
    assert ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.OPEN
