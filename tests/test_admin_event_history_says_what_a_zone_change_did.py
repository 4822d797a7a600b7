"""The event's admin History (the HISTORY button on its page) listed a time-zone change as
'Changed Timezone and Time zone change.': the form's question as if it were a field, and not what
was chosen. The entry says what was done, as the confirmation after saving did."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from .test_admin_event_time_zone_change import admin_client, change_url, event, form_data  # noqa: F401

pytestmark = pytest.mark.django_db


def _history(client, of_event) -> str:
    page = client.get(reverse("admin:registrations_event_history", args=[of_event.pk])).content.decode()
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_the_events_history_says_which_way_its_time_zone_was_changed(admin_client, event):  # noqa: F811
    data = form_data(admin_client, event, timezone="America/Los_Angeles", zone_change="clock")
    admin_client.post(change_url(event), data, follow=True)  # the confirmation is read there, not below
    said = _history(admin_client, event)
    assert "Time zone change." not in said, said
    assert "Changed Starts at, Ends at and Timezone" in said, said
    assert "Time zone changed from Europe/London to America/Los_Angeles, keeping the clock time" in said, said


def test_an_ordinary_change_reads_as_before(admin_client, event):  # noqa: F811
    admin_client.post(change_url(event), form_data(admin_client, event, name="Renamed"), follow=True)
    assert "Changed Name." in _history(admin_client, event)
