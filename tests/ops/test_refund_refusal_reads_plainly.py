"""When Stripe refuses a refund, the card says so once: "Stripe refused the refund: No such
payment_intent …", not "Stripe refused the refund: stripe: No such payment_intent …"."""

from __future__ import annotations

import html

import pytest

from registrations.models import ReviewItem

from .refunding import refund_post

pytestmark = pytest.mark.django_db


def test_a_refused_refund_names_stripe_once(ops_client, stripe_world, fake_stripe, htmx_headers):
    item = stripe_world.items[ReviewItem.Kind.DUPLICATE_PAYMENT]
    fake_stripe.charge_for({"payment_intent": item.payment.payment_intent_id})["amount_refunded"] = 12000
    body = html.unescape(refund_post(ops_client, item, item.payment, "120", htmx_headers()).content.decode())
    assert "Stripe refused the refund: " in body and "Nothing was refunded" in body
    assert "Stripe refused the refund: stripe:" not in body
    assert "amount.. Nothing" not in body  # Stripe's own full stop is not doubled
