"""The "Bank payment not cleared" card says since when the debit is awaiting funds. The day is
the event's (its time zone), not the server's UTC day: a debit made at 19:30 in California must
not read as made the next day."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from registrations.clearing import flag_stalled_debits
from registrations.models import Payment, ReviewItem

from .scenario import book, make_event, pay

pytestmark = pytest.mark.django_db


def test_a_bank_debit_not_cleared_card_gives_the_debit_day_in_the_event_time_zone(ops_client):
    event = make_event()
    tz = zoneinfo.ZoneInfo(event.timezone)
    day = (timezone.now() - timedelta(days=20)).astimezone(tz).date()
    evening = datetime.combine(day, time(19, 30), tzinfo=tz)  # the next day in UTC
    pay("dana.debit@example.org", "Dana Debit")
    Payment.objects.update(state=Payment.State.UNPAID, occurred_at=evening)
    book("dana.debit@example.org", "Dana", "Debit")

    assert flag_stalled_debits() == 1

    item = ReviewItem.objects.get(kind="payment_not_cleared")
    assert f"by bank debit on {day:%Y-%m-%d}" in item.explanation
    page = ops_client.get(reverse("ops:queue") + "?kind=payment_not_cleared").content.decode()
    assert f"since {day.day} {day:%b %Y}" in page
    assert f"by bank debit on {day.day} {day:%b %Y}" in page  # the stored day, as the page gives days
