"""The reminder scan's log line for "Bank payment not cleared" cards says why each was opened:
a debit sent for review because its event starts within a day, or has started, is not logged as
"not cleared after 14 days" (it may be a day old)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.scan import run_scan
from registrations.models import Event

from .test_bank_debit_not_cleared import booked_then_debit

pytestmark = pytest.mark.django_db


def _scan_log(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name == "registrations.clearing")


def test_a_card_opened_because_the_event_has_started_is_logged_as_such(event, fake_stripe, caplog):
    booked_then_debit(days_ago=2, fake_stripe=fake_stripe)
    Event.objects.filter(pk=event.pk).update(starts_at=timezone.now() - timedelta(hours=2))

    with caplog.at_level("INFO", logger="registrations.clearing"):
        run_scan(process="inline")

    said = _scan_log(caplog)
    assert "after 14 days" not in said, said
    assert "1 at an event that has started" in said, said


def test_a_card_opened_because_the_event_starts_within_a_day_is_logged_as_such(event, fake_stripe, caplog):
    booked_then_debit(days_ago=2, fake_stripe=fake_stripe)
    Event.objects.filter(pk=event.pk).update(starts_at=timezone.now() + timedelta(hours=12))

    with caplog.at_level("INFO", logger="registrations.clearing"):
        run_scan(process="inline")

    said = _scan_log(caplog)
    assert "after 14 days" not in said, said
    assert "1 at an event starting within a day" in said, said


def test_a_card_opened_after_the_review_delay_still_says_how_long(event, fake_stripe, caplog):
    booked_then_debit(days_ago=15, fake_stripe=fake_stripe)

    with caplog.at_level("INFO", logger="registrations.clearing"):
        run_scan(process="inline")

    said = _scan_log(caplog)
    assert "1 not cleared after 14 days" in said, said
    assert "event" not in said.split("sent for review", 1)[-1], said
