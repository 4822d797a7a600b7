"""After choosing what a time-zone change does and saving, the event list said only 'The event
“…” was changed successfully.': nothing told the operator that the event had moved 8 hours (keep
the clock time) or kept its moment under another clock. The confirmation says what was done, in
the words of the event's history."""

from __future__ import annotations

import html

import pytest

from .test_admin_event_time_zone_change import admin_client, change_url, event, form_data  # noqa: F401

pytestmark = pytest.mark.django_db


def _messages(response) -> str:
    return " ".join(html.unescape(" ".join(str(m) for m in response.context["messages"])).split())


def test_keeping_the_clock_time_is_confirmed_with_how_far_the_event_moved(admin_client, event):  # noqa: F811
    data = form_data(admin_client, event, timezone="America/Los_Angeles", zone_change="clock")
    said = _messages(admin_client.post(change_url(event), data, follow=True))
    assert "Time zone changed from Europe/London to America/Los_Angeles, keeping the clock time" in said, said
    assert "8 hours later" in said, said


def test_keeping_the_same_moment_is_confirmed_with_the_new_clock_time(admin_client, event):  # noqa: F811
    data = form_data(admin_client, event, timezone="America/Los_Angeles", zone_change="moment")
    said = _messages(admin_client.post(change_url(event), data, follow=True))
    assert "keeping the same moment" in said and "02:00 PST" in said, said


def test_a_save_without_a_zone_change_says_nothing_about_time_zones(admin_client, event):  # noqa: F811
    said = _messages(admin_client.post(change_url(event), form_data(admin_client, event, name="Renamed"), follow=True))
    assert "Time zone" not in said, said
