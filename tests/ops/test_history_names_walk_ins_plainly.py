"""A walk-in's history reads plainly: its payment (and its booking) are named "walk-in payment
entered <day and time, in the event's zone>", never by the internal key ``walkin:<reg>:<stamp>``,
in the payment's own line and in the audit rows that name it."""

from __future__ import annotations

import re
import zoneinfo

import pytest
from django.urls import reverse

from registrations.models import Payment, Registration

from .test_history_names_seats_and_event_match_plainly import _history

pytestmark = pytest.mark.django_db


def test_a_walk_ins_history_names_the_payment_by_when_it_was_entered_not_its_key(ops_client, event):
    form = {
        "name": "Wanda Walk",
        "email": "wanda.walk@example.org",
        "method": "cash",
        "amount": "120",
        "token": "b" * 32,
    }
    ops_client.post(reverse("ops:walk_in", args=[event.slug]), form, follow=True)
    reg = Registration.objects.get(event=event, attendee__email="wanda.walk@example.org")
    payment = Payment.objects.get(registration=reg)
    assert payment.manual_key.startswith("walkin:")
    # Another step that names the payment in its audit row: the operator corrects the amount.
    from registrations.audit import Actor, audit

    audit("payment.updated", actor=Actor.system("test"), registration=reg, after={"payment": str(payment)})

    history = _history(ops_client, event, reg)
    local = payment.occurred_at.astimezone(zoneinfo.ZoneInfo(event.timezone))
    entered = f"walk-in payment entered {local.day} {local:%b %Y %H:%M:%S %Z}"
    assert "walkin:" not in history, history
    assert entered in history, history
    assert re.search(rf"Payment: {re.escape(entered)}", history), history
    booking_entered = f"walk-in booking entered {local.day} {local:%b %Y %H:%M:%S %Z}"
    assert booking_entered in history, history  # the booking entered with it, same key
