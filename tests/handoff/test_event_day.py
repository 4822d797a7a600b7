"""The handoff pages name the event and its day: the day in the event's own time zone, not the
server's (UTC). An evening event in California is already the next day in UTC."""

import zoneinfo
from datetime import datetime

import pytest

UTC = zoneinfo.ZoneInfo("UTC")


@pytest.mark.parametrize(
    ("zone", "starts_at_utc", "day"),
    [
        ("America/Los_Angeles", datetime(2026, 6, 13, 1, 0, tzinfo=UTC), "Friday 12 June 2026"),  # 6 PM PDT
        ("Europe/Berlin", datetime(2026, 3, 28, 23, 30, tzinfo=UTC), "Sunday 29 March 2026"),  # 00:30 CET
    ],
)
def test_handoff_pages_show_the_event_day_in_the_events_time_zone(
    client, fake_stripe, fake_acuity, event, zone, starts_at_utc, day
):
    event.timezone = zone
    event.starts_at = starts_at_utc
    event.save()
    s = fake_stripe.add_session(email="river@example.org", payment_status="unpaid")  # stays on our page

    for response in (
        client.get("/r/paid/", {"session_id": s["id"]}),
        client.get("/r/paid/", {"session_id": "cs_test_nosuchsession", "event": "spring-retreat"}),
    ):
        assert f"Spring Retreat · {day}" in response.content.decode()
