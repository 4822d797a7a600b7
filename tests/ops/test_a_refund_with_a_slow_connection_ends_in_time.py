"""An operator's refund when connecting to Stripe is slow as well as its answer: each try's wait
for the connection counts in the request's budget too (the HTTP client waits for the connection
and then, again, for the answer), so the request still ends within ``REQUEST_BUDGET``, well
before gunicorn's 30 s worker timeout."""

from __future__ import annotations

import time

import pytest
import urllib3.util.connection
from django.urls import reverse

from integrations import refunds
from registrations.models import Payment, ReviewItem

pytestmark = pytest.mark.django_db


@pytest.fixture
def slow_connect(monkeypatch):
    """Every new connection takes almost as long as the client lets it (then succeeds)."""
    real = urllib3.util.connection.create_connection

    def create_connection(address, timeout=None, *args, **kwargs):
        if isinstance(timeout, (int, float)) and timeout > 0.2:
            time.sleep(timeout - 0.1)
        return real(address, timeout, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)


def test_a_refund_with_slow_connections_and_a_slow_stripe_ends_within_the_requests_budget(
    ops_client, stripe_world, fake_stripe, htmx_headers, monkeypatch, slow_connect
):
    monkeypatch.setattr(refunds, "REQUEST_BUDGET", 4.0)
    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    fake_stripe.fail_next(2, status=500, delay=8)

    started = time.monotonic()
    body = ops_client.post(
        reverse("ops:queue_action", args=[item.pk, "refund"]),
        {"payment": payment.pk, "amount": "50", "confirm": "1"},
        headers=htmx_headers(),
    ).content.decode()
    took = time.monotonic() - started

    assert "Stripe could not be reached" in body
    assert took < 4.5
    assert ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.OPEN
