"""The "Bank payment not cleared" card once the event has started: no payment reminder goes out
then, whatever the operator chooses, and the card does not come back, so "remind them to pay"
must not promise that the reminders resume, nor "keep waiting" that the card returns."""

from __future__ import annotations

import html
import re
import zoneinfo
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from registrations.clearing import flag_stalled_debits
from registrations.models import Event, Payment, ReviewItem

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


def test_remind_to_pay_does_not_promise_reminders_once_the_event_has_started(ops_client):
    event = make_event()
    _debit("dana.debit@example.org", "Dana Debit")
    book("dana.debit@example.org", "Dana", "Debit", event=event)
    Event.objects.filter(pk=event.pk).update(starts_at=timezone.now() - timedelta(hours=2))

    assert flag_stalled_debits() == 1

    card = _card(ops_client, ReviewItem.objects.get(kind="payment_not_cleared"))
    assert "reminders resume" not in card, card
    assert "no payment reminder goes out" in card, card
    assert "comes back" not in card and "asked again" not in card, card  # nor does the card, once started


def test_remind_to_pay_still_says_the_reminders_resume_before_the_event(ops_client):
    event = make_event()
    _debit("dana.debit@example.org", "Dana Debit")
    book("dana.debit@example.org", "Dana", "Debit", event=event)
    Event.objects.filter(pk=event.pk).update(starts_at=timezone.now() + timedelta(hours=12))

    assert flag_stalled_debits() == 1

    card = _card(ops_client, ReviewItem.objects.get(kind="payment_not_cleared"))
    assert "The payment reminders resume on the event's usual schedule, with the payment link" in card, card
    assert "no payment reminder goes out" not in card, card
    assert "the item comes back if it is still not cleared" in card, card


def test_a_card_opened_the_day_before_reads_as_started_once_the_event_has_started(ops_client):
    """The card opened 12 hours before the start ("starts on …, settle it before they arrive …
    asked again in 14 days"); the operator reads it after the start: it says the event started,
    and neither that reminders resume nor that it is asked again."""
    event = make_event()
    _debit("dana.debit@example.org", "Dana Debit")
    book("dana.debit@example.org", "Dana", "Debit", event=event)
    Event.objects.filter(pk=event.pk).update(starts_at=timezone.now() + timedelta(hours=12))
    assert flag_stalled_debits() == 1
    item = ReviewItem.objects.get(kind="payment_not_cleared")
    assert "The event starts on" in _card(ops_client, item)

    Event.objects.filter(pk=event.pk).update(starts_at=timezone.now() - timedelta(hours=1))  # time passes

    card = _card(ops_client, item)
    assert "The event started on" in card and "settle it with them" in card, card
    assert "The event starts on" not in card and "before they arrive" not in card, card
    assert "reminders resume" not in card and "asked again" not in card, card
    assert "Payment reminders are on hold meanwhile" not in card, card
    assert "dana.debit@example.org> paid" in card and "awaiting funds after 3 days" in card, card  # facts stay


def test_the_event_start_on_the_card_names_its_time_zone(ops_client):
    event = make_event(timezone="America/Los_Angeles")
    _debit("dana.debit@example.org", "Dana Debit")
    book("dana.debit@example.org", "Dana", "Debit", event=event)
    Event.objects.filter(pk=event.pk).update(starts_at=timezone.now() + timedelta(hours=12))
    assert flag_stalled_debits() == 1
    item = ReviewItem.objects.get(kind="payment_not_cleared")
    event.refresh_from_db()
    local = event.starts_at.astimezone(zoneinfo.ZoneInfo("America/Los_Angeles"))

    assert f"The event starts on {local.day} {local:%b %Y, %H:%M} {local:%Z} " in _card(ops_client, item)
    Event.objects.filter(pk=event.pk).update(starts_at=event.starts_at - timedelta(days=1))
    local -= timedelta(days=1)
    assert f"The event started on {local.day} {local:%b %Y, %H:%M} {local:%Z} " in _card(ops_client, item)
