"""The "Bank payment not cleared" card of a friend's seat of a group payment: its "Bank debit"
line is the payer's group payment awaiting funds (amount, day, payer), not the seat's own 0.00
entry dated when the friend booked."""

from __future__ import annotations

import html
import re
import zoneinfo
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from registrations.audit import Actor
from registrations.clearing import flag_stalled_debits
from registrations.models import Event, Payment, ReviewItem, SeatReference
from registrations.seats import issue_seat_references

from .scenario import book, make_event, pay

pytestmark = pytest.mark.django_db


def _card(client, item) -> str:
    page = client.get(reverse("ops:queue") + "?kind=payment_not_cleared").content.decode()
    card = re.search(rf'id="item-{item.pk}".*?</article>', page, re.S)
    assert card, page
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", card[0])))


def _debit(email, name, **kw):
    pay(email, name, **kw)
    Payment.objects.filter(email=email).update(
        state=Payment.State.UNPAID, occurred_at=timezone.now() - timedelta(days=3)
    )


def test_a_seat_card_shows_the_payers_group_debit_not_the_seats_zero(ops_client):
    event = make_event()
    _debit("gina.group@example.org", "Gina Group", amount=24000, quantity=2)
    book("gina.group@example.org", "Gina", "Group", event=event)
    group = Payment.objects.get(email="gina.group@example.org")
    issue_seat_references(group, Actor.system("handoff"))
    ref = SeatReference.objects.get(payment=group, seat=2).reference
    book("sam.seat@example.org", "Sam", "Seat", intake={"ref": ref}, event=event)
    assert Payment.objects.get(method=Payment.Method.GROUP_SEAT).state == Payment.State.UNPAID
    Event.objects.filter(pk=event.pk).update(starts_at=timezone.now() + timedelta(hours=12))

    flag_stalled_debits()

    seat_item = ReviewItem.objects.get(kind="payment_not_cleared", registration__attendee__email="sam.seat@example.org")
    card = _card(ops_client, seat_item)
    line = re.search(r"Bank debit (.*?) It is not coming", card)[1]
    day = group.occurred_at.astimezone(zoneinfo.ZoneInfo(event.timezone))
    assert "$0.00" not in line, line
    assert "$240.00" in line and f"since {day.day} {day:%b %Y}" in line, line
    assert "Gina Group" in line and f"#{group.pk}" in line, line
