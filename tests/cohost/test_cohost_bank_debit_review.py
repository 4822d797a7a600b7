"""A bank debit sent to the operators as not cleared is a payment question: a co-host who may not
see money is told the attendee is being checked, not what about."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from registrations.clearing import flag_stalled_debits
from registrations.models import CoHostGrant, Registration, ReviewItem

from .conftest import pay, sign_in


def test_a_bank_debit_under_review_is_not_named_to_a_cohost_without_money_permission(client, world):
    sign_in(client, world.alice.cohost)
    email = "spring.bookedonly@example.org"
    pay(world.alice.event, email, "Spring Bookedonly", status="unpaid",
        occurred_at=timezone.now() - timedelta(days=20))  # fmt: skip
    assert flag_stalled_debits() == 1
    reg = Registration.objects.get(attendee__email=email)
    assert reg.status == "needs_review" and reg.review_items.get().kind == ReviewItem.Kind.PAYMENT_NOT_CLEARED

    url = reverse("cohost:event", args=[world.alice.event.slug]) + "?show=incomplete"
    body = client.get(url).content.decode()
    assert "being checked by the organisers" in body
    assert "Bank payment not cleared" not in body

    CoHostGrant.objects.filter(cohost=world.alice.cohost, event=world.alice.event).update(can_see_money=True)
    assert "Bank payment not cleared" in client.get(url).content.decode()
