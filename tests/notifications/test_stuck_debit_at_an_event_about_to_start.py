"""A bank debit still awaiting funds when the event is about to start (or has started) reaches an
operator then, not only after PAYMENT_CLEARING_REVIEW_DAYS, which could be after the event."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.scan import run_scan
from registrations.audit import Actor
from registrations.clearing import keep_waiting
from registrations.models import Event, ReviewItem, Status

from .test_bank_debit_not_cleared import NOT_CLEARED, booked_then_debit

pytestmark = pytest.mark.django_db


def starts_in(event, delta: timedelta):
    Event.objects.filter(pk=event.pk).update(starts_at=timezone.now() + delta)


def cards():
    return list(ReviewItem.objects.filter(kind=NOT_CLEARED).order_by("pk"))


def test_a_debit_still_not_cleared_when_the_event_has_started_goes_to_an_operator(event, fake_stripe):
    reg = booked_then_debit(days_ago=3, fake_stripe=fake_stripe)
    starts_in(event, -timedelta(hours=2))

    run_scan(process="inline")

    [item] = cards()
    assert item.state == ReviewItem.State.OPEN and item.registration == reg
    assert "started" in item.explanation and "not cleared" in item.explanation
    reg.refresh_from_db()
    assert reg.status == Status.NEEDS_REVIEW
    run_scan(process="inline")  # every 5 minutes: still one card
    assert len(cards()) == 1


def test_a_debit_still_not_cleared_the_day_before_the_event_goes_to_an_operator(event, fake_stripe):
    booked_then_debit(days_ago=2, fake_stripe=fake_stripe)
    starts_in(event, timedelta(hours=12))

    run_scan(process="inline")

    [item] = cards()
    assert "starts on" in item.explanation


def test_a_debit_of_a_few_days_for_an_event_next_week_is_left_alone(event, fake_stripe):
    booked_then_debit(days_ago=3, fake_stripe=fake_stripe)
    starts_in(event, timedelta(days=5))

    run_scan(process="inline")

    assert cards() == []


def test_keep_waiting_decided_long_before_the_event_is_asked_again_when_the_event_is_near(event, fake_stripe):
    booked_then_debit(days_ago=16, fake_stripe=fake_stripe)
    starts_in(event, timedelta(days=10))
    run_scan(process="inline")
    [first] = cards()
    keep_waiting(first.pk, Actor.system("test"))

    # Nine and a half days later the event starts in 12 hours and the debit has still not cleared.
    run_scan(process="inline", now=timezone.now() + timedelta(days=9, hours=12))

    assert [c.state for c in cards()] == [ReviewItem.State.RESOLVED, ReviewItem.State.OPEN]
