"""Changing an event's time zone in the admin: the question says that the event's quiet hours
(whole hours read in the event's zone, notifications.policy.in_quiet_hours) are read in the new
zone afterwards, whichever way the start is kept, so "Keep the same moment" does not leave the
operator thinking nothing at all moves (21:00 to 08:00 London becomes 21:00 to 08:00 Los Angeles,
8 hours later)."""

from __future__ import annotations

import html
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from notifications.policy import in_quiet_hours
from registrations.models import Event

from .test_admin_event_time_zone_change import admin_client, change_url, event, form_data  # noqa: F401

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")


def _choices(response) -> list[str]:
    """The texts of the "Time zone change" choices on the page."""
    found = re.findall(r'<label for="id_zone_change_\d">(.*?)</label>', response.content.decode(), re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", "", c)).split()) for c in found]


def test_both_choices_say_the_quiet_hours_are_read_in_the_new_zone(admin_client, event):  # noqa: F811
    choices = _choices(
        admin_client.post(change_url(event), form_data(admin_client, event, timezone="America/Los_Angeles"))
    )
    said = (
        "Quiet hours (21:00 to 08:00, no reminders sent) are read in America/Los_Angeles from now on "
        "(05:00 to 16:00 in Europe/London)."
    )
    assert [c.split(":")[0] for c in choices] == ["Keep the same moment", "Keep the clock time"], choices
    assert all(said in c for c in choices), choices


def test_the_quiet_hours_typed_in_the_same_save_are_the_ones_named(admin_client, event):  # noqa: F811
    data = form_data(admin_client, event, timezone="America/Los_Angeles", quiet_hours_start="22", quiet_hours_end="7")
    choices = _choices(admin_client.post(change_url(event), data))
    assert choices and all("Quiet hours (22:00 to 07:00, no reminders sent) are read in America" in c for c in choices)


def test_no_quiet_hours_means_nothing_is_said_about_them(admin_client, event):  # noqa: F811
    Event.objects.filter(pk=event.pk).update(quiet_hours_start=8, quiet_hours_end=8)
    choices = _choices(
        admin_client.post(change_url(event), form_data(admin_client, event, timezone="America/Los_Angeles"))
    )
    assert len(choices) == 2 and not any("Quiet hours" in c for c in choices), choices


def test_that_is_what_happens_after_keeping_the_same_moment(admin_client, event):  # noqa: F811
    """22:00 in Los Angeles is 06:00 London: quiet in the new zone, not in the old one."""
    data = form_data(admin_client, event, timezone="America/Los_Angeles", zone_change="moment")
    assert admin_client.post(change_url(event), data).status_code == 302
    event.refresh_from_db()
    ten_pm_la = datetime(2026, 12, 10, 22, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert ten_pm_la.astimezone(LONDON).hour == 6
    assert in_quiet_hours(event, ten_pm_la)
    noon_la = datetime(2026, 12, 10, 12, 0, tzinfo=ZoneInfo("America/Los_Angeles"))  # 20:00 London
    assert not in_quiet_hours(event, noon_la)
