"""Every time an operator reads on the ops pages says which time zone it is in (the event's), so
a 16:00 in the history is not mistaken for the operator's own 16:00."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime

import pytest
from django.urls import reverse

from registrations.models import Payment, Registration, ReviewItem

from .scenario import book, make_event, pay

pytestmark = pytest.mark.django_db

ZONE = re.compile(r"\bP[SD]T$")  # the scenario's events are in America/Los_Angeles


def test_the_history_times_carry_the_event_time_zone(ops_client, world):
    reg = Registration.objects.get(attendee__email="calm.complete@example.org")
    page = ops_client.get(reverse("ops:registration", args=[world.event.slug, reg.pk])).content.decode()
    times = re.findall(r"<time [^>]*>([^<]*)</time>", page)
    assert times
    for text in times:
        assert ZONE.search(text.strip()), text


def test_the_booked_for_column_carries_the_event_time_zone(ops_client, world):
    page = ops_client.get(reverse("ops:event", args=[world.event.slug]) + "?q=calm").content.decode()
    cell = re.search(r'data-label="Booked for">([^<]*)</td>', page).group(1).strip()
    assert ZONE.search(cell), cell


def test_a_duplicate_payment_card_shows_both_times_in_the_event_time_zone(ops_client, world):
    item = ReviewItem.objects.get(kind="duplicate_payment", state=ReviewItem.State.OPEN)
    page = ops_client.get(reverse("ops:queue") + "?kind=duplicate_payment").content.decode()
    tz = zoneinfo.ZoneInfo(world.event.timezone)
    for payment in Payment.objects.filter(registration=item.registration):
        local = payment.occurred_at.astimezone(tz)
        expected = f"{local.day} {local:%b %H:%M %Z}"
        assert expected in page, expected


def test_recent_walk_ins_carry_the_event_time_zone(ops_client, event):
    url = reverse("ops:walk_in", args=[event.slug])
    ops_client.post(
        url,
        {"name": "Wren Walkin", "email": "wren@example.org", "method": "cash", "amount": "120", "token": "f" * 32},
    )
    page = ops_client.get(url).content.decode()
    recent = re.search(r"Recent walk-ins</h2>\s*<ul[^>]*>(.*?)</ul>", page, re.S).group(1)
    assert ZONE.search(re.sub(r"<[^>]+>", "", recent).strip()), recent


def test_the_refund_confirm_step_gives_the_payment_day_in_the_event_time_zone(ops_client, world, htmx_headers):
    """A payment made at 19:30 in California on 2 December reads '2 Dec' on the card; the confirm
    step must not say it was paid on 3 December (the server's UTC day)."""
    item = ReviewItem.objects.get(kind="duplicate_payment", state=ReviewItem.State.OPEN)
    tz = zoneinfo.ZoneInfo(world.event.timezone)
    Payment.objects.filter(pk=item.payment_id).update(
        occurred_at=datetime(2026, 12, 2, 19, 30, tzinfo=tz), payment_intent_id="pi_evening"
    )
    payment = Payment.objects.get(pk=item.payment_id)
    for headers in (htmx_headers(), {}):
        page = ops_client.post(
            reverse("ops:queue_action", args=[item.pk, "refund"]),
            {"payment": payment.pk, "amount": f"{payment.net_amount / 100:.2f}"},
            headers=headers,
        ).content.decode()
        assert "Confirm refund of" in page
        assert "paid on 2 Dec 2026" in page


def test_a_paid_but_cancelled_card_names_each_payment_by_its_day_in_the_event_time_zone(ops_client, operator):
    """Two payments on one cancelled registration: each refund form names its payment's day. The
    one made at 19:30 in California on 2 December is 'payment of 2 Dec', not 3 Dec (UTC)."""
    event = make_event()
    pay("two.payments@example.org", "Two Payments")
    pay("two.payments@example.org", "Two Payments")
    tz = zoneinfo.ZoneInfo(event.timezone)
    first, second = Payment.objects.order_by("pk")
    Payment.objects.filter(pk=first.pk).update(occurred_at=datetime(2026, 11, 20, 10, 0, tzinfo=tz))
    Payment.objects.filter(pk=second.pk).update(occurred_at=datetime(2026, 12, 2, 19, 30, tzinfo=tz))
    book("two.payments@example.org", "Two", "Payments", source_id=9301)
    book("two.payments@example.org", "Two", "Payments", source_id=9301, status="cancelled")
    assert ReviewItem.objects.filter(kind="paid_cancelled", state=ReviewItem.State.OPEN).exists()

    page = ops_client.get(reverse("ops:queue") + "?kind=paid_cancelled").content.decode()
    assert "payment of 20 Nov" in page
    assert "payment of 2 Dec" in page
