"""Event times an attendee reads (reminder email and SMS, status page) are in the event's own
time zone, and name the zone: someone travelling, or joining from elsewhere, can tell 10 AM
Berlin time from 10 AM their time."""

import zoneinfo
from datetime import datetime

import pytest

from notifications.render import render_reminder
from notifications.tokens import status_token
from registrations.models import Status

UTC = zoneinfo.ZoneInfo("UTC")


@pytest.mark.parametrize(
    ("zone", "starts_at_utc", "shown"),
    [
        # Berlin moves to summer time at 01:00 UTC on 29 March 2026: the day before is UTC+1,
        # the day itself UTC+2.
        ("Europe/Berlin", datetime(2026, 3, 28, 9, 0, tzinfo=UTC), "Saturday 28 March 2026, 10:00 AM CET"),
        ("Europe/Berlin", datetime(2026, 3, 29, 8, 0, tzinfo=UTC), "Sunday 29 March 2026, 10:00 AM CEST"),
        # An evening in California is already the next day in UTC.
        ("America/Los_Angeles", datetime(2026, 6, 13, 1, 0, tzinfo=UTC), "Friday 12 June 2026, 6:00 PM PDT"),
        # A zone without a lettered abbreviation is named by its offset.
        ("America/Sao_Paulo", datetime(2026, 6, 12, 22, 0, tzinfo=UTC), "Friday 12 June 2026, 7:00 PM UTC-03"),
    ],
)
def test_reminders_and_the_status_page_show_the_event_time_in_its_own_zone_and_name_it(
    client, one_sided, event, zone, starts_at_utc, shown
):
    event.timezone = zone
    event.starts_at = starts_at_utc
    event.save()
    reg = one_sided(Status.PAID_ONLY)

    out = render_reminder(reg, "booking", status_url="https://x/s", unsubscribe_url="https://x/u")
    assert f"({shown})" in out.text
    assert f"({shown})" in out.html

    page = client.get(f"/n/status/{status_token(reg.pk)}/").content.decode()
    assert shown in page
