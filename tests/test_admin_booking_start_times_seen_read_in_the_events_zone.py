"""A rescheduled booking's own admin page listed the start times Acuity sent as stored
('["2026-12-15T18:00:00+00:00", "2026-12-16T02:00:00+00:00"]'), right under 'Starts at: 15 Dec
2026 18:00 PST': the old 10:00 appointment read as 18:00, the new one's hour. They are given like
every other time on the page: in the event's zone, named, oldest first."""

from __future__ import annotations

import html
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from registrations.models import Booking
from tests.factories import EventFactory, RegistrationFactory

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")


def _text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_a_rescheduled_bookings_earlier_start_times_read_in_the_events_zone(admin_client, settings):
    settings.TIME_ZONE = "UTC"
    event = EventFactory(starts_at=datetime(2026, 12, 15, 10, 0, tzinfo=LA), timezone="America/Los_Angeles")
    booking = Booking.objects.create(
        acuity_appointment_id="770002",
        event=event,
        registration=RegistrationFactory(event=event),
        starts_at=datetime(2026, 12, 15, 18, 0, tzinfo=LA),
        email="bea@example.org",
        start_times_seen=["2026-12-16T02:00:00+00:00", "2026-12-15T10:00:00-08:00"],
    )
    page = admin_client.get(reverse("admin:registrations_booking_change", args=[booking.pk])).content.decode()
    row = re.search(r'<div class="form-row[^"]*field-start_times[^"]*">(.*?)</div>\s*</div>', page, re.S)
    assert row, "no start times on the booking's page"
    assert "2026-12-1" not in _text(page)
    assert "15 Dec 2026 10:00 PST, 15 Dec 2026 18:00 PST" in _text(row.group(1)), _text(row.group(1))
