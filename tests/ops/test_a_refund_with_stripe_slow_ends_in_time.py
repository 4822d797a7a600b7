"""An operator's refund with Stripe slow: the request ends well before gunicorn's 30 s worker
timeout (which answers a 502 and leaves the operator not knowing what happened), says that Stripe
is slow and what was (not) sent, and never makes a second refund on the way."""

from __future__ import annotations

import time

import pytest

from integrations import refunds
from registrations.models import Payment, ReviewItem

from .refunding import lose_the_answer, refund_post

pytestmark = pytest.mark.django_db


def timed_post(*args):
    started = time.monotonic()
    body = refund_post(*args).content.decode()
    return body, time.monotonic() - started


def test_a_retry_while_stripe_is_slow_stops_waiting_soon_says_so_and_sends_nothing_new(
    ops_client, stripe_world, fake_stripe, htmx_headers, monkeypatch
):
    """Dana's duplicate card sent a refund whose answer was lost, so a retry first asks Stripe what
    the card refunded (one list call per payment of the card: two). Stripe is slow: the operator
    does not wait for each call and its retries, only for the lookup's budget."""
    monkeypatch.setattr(refunds, "LOOKUP_BUDGET", 1.5, raising=False)
    item = stripe_world.items[ReviewItem.Kind.DUPLICATE_PAYMENT]
    payment = item.payment
    lose_the_answer(monkeypatch, ops_client, item, payment, "120", htmx_headers)
    fake_stripe.reset_requests()
    fake_stripe.fail_next(1, status=500, delay=2.5)  # a late answer (an error, when it comes)

    body, took = timed_post(ops_client, item, payment, "120", htmx_headers())

    assert took < 2.5
    assert "Stripe is slow to answer" in body and "Nothing new was sent" in body
    assert fake_stripe.count("GET", r"^/v1/refunds$") == 1  # no network retries
    assert fake_stripe.count("POST", r"^/v1/refunds$") == 0
    assert ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.OPEN

    # Stripe answers again: the retry finds the refund the card made; no second one is made.
    body = refund_post(ops_client, item, payment, "120", htmx_headers()).content.decode()
    assert "No second refund was made" in body
    assert len(fake_stripe.refunds) == 1


def test_a_refund_while_stripe_is_slow_ends_before_the_web_workers_timeout(
    ops_client, stripe_world, fake_stripe, htmx_headers, monkeypatch
):
    """The refund itself (its one retry included, same idempotency key) fits in the request's
    budget: the operator reads "try again" instead of a 502."""
    monkeypatch.setattr(refunds, "REQUEST_BUDGET", 4.0, raising=False)
    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    fake_stripe.fail_next(2, status=500, delay=5)

    body, took = timed_post(ops_client, item, payment, "50", htmx_headers())

    assert took < 4.5
    assert fake_stripe.count("POST", r"^/v1/refunds$") == 2  # the SDK's one retry, same key
    assert "Stripe could not be reached" in body and "never made twice" in body
    assert ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.OPEN


def test_the_time_an_operator_waits_for_stripe_is_well_under_gunicorns_timeout():
    """What the budgets allow at worst (the refund's two tries and the SDK's pause between them
    after the lookup) against gunicorn's 30 s."""
    from pathlib import Path

    conf = (Path(__file__).resolve().parents[2] / "gunicorn.conf.py").read_text()
    assert 'GUNICORN_TIMEOUT", "30"' in conf
    worst_refund = 2 * min(refunds.HTTP_TIMEOUT, (refunds.REQUEST_BUDGET - 1) / 2) + 0.5
    assert refunds.LOOKUP_BUDGET < refunds.REQUEST_BUDGET
    assert worst_refund <= refunds.REQUEST_BUDGET <= 20
