"""A walk-in for an event that is already over (cash entered after the fact) is still recorded,
but the operator is told: the form says the event has ended, and the result says "This event
ended on <its day>; the walk-in is recorded for the record". An upcoming event says nothing."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from registrations.models import Registration

from .scenario import make_event

pytestmark = pytest.mark.django_db


def _form(**over):
    data = {"name": "Lou Late", "email": "lou.late@example.org", "method": "cash", "amount": "120", "token": "a" * 32}
    data.update(over)
    return data


def test_a_walk_in_for_an_event_that_has_ended_is_recorded_with_a_warning(ops_client):
    tz = zoneinfo.ZoneInfo("America/Los_Angeles")
    day = (timezone.now() - timedelta(days=3)).astimezone(tz).date()
    starts = datetime.combine(day, time(18, 0), tzinfo=tz)
    event = make_event(starts_at=starts, ends_at=starts + timedelta(hours=5))  # ends 23:00, the next day in UTC
    url = reverse("ops:walk_in", args=[event.slug])
    said = f"This event ended on {day.day} {day:%b %Y}; the walk-in is recorded for the record"

    form_page = ops_client.get(url).content.decode()
    assert f"This event ended on {day.day} {day:%b %Y}" in form_page

    response = ops_client.post(url, _form(), follow=True)
    assert Registration.objects.filter(event=event, attendee__email="lou.late@example.org").exists()
    page = response.content.decode()
    assert "Walk-in entered: Lou Late" in page
    assert said in page, page


def test_a_walk_in_for_an_upcoming_event_has_no_such_warning(ops_client, event):
    url = reverse("ops:walk_in", args=[event.slug])
    page = ops_client.post(url, _form(), follow=True).content.decode()
    assert "Walk-in entered: Lou Late" in page
    assert "This event ended" not in page and "This event ended" not in ops_client.get(url).content.decode()
