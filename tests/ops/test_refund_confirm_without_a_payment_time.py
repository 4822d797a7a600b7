"""The refund confirm step names the day a payment was made; a payment whose time was never
recorded (occurred_at is None) must not read "paid on" followed by nothing."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from registrations.models import Payment, ReviewItem

pytestmark = pytest.mark.django_db


def test_the_refund_confirm_step_leaves_out_paid_on_when_the_payment_time_is_not_recorded(
    ops_client, world, htmx_headers
):
    item = ReviewItem.objects.get(kind="duplicate_payment", state=ReviewItem.State.OPEN)
    Payment.objects.filter(pk=item.payment_id).update(occurred_at=None, payment_intent_id="pi_untimed")
    payment = Payment.objects.get(pk=item.payment_id)
    for headers in (htmx_headers(), {}):  # the card's inline step and the page without JavaScript
        page = ops_client.post(
            reverse("ops:queue_action", args=[item.pk, "refund"]),
            {"payment": payment.pk, "amount": f"{payment.net_amount / 100:.2f}"},
            headers=headers,
        ).content.decode()
        assert "Confirm refund of" in page
        sentence = re.search(r"<p>([^<]*) goes back to the card of", page).group(1)
        assert "paid on" not in sentence, sentence
        assert sentence.rstrip().endswith("paid"), sentence
