"""Changing an event's time zone in the admin never moves the event silently. The start and end
on the form were shown in the old zone; saved as they were, they were read in the new one, so
an event at 10:00 London became 10:00 Los Angeles (8 hours later) without a word. Now the save
stops and asks: keep the same moment (the clock time changes) or keep the clock time (the
event moves). The choice is in the event's audit history."""

from __future__ import annotations

import html
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from registrations.models import AuditLog, Event
from tests.admin_forms import add_event
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
LA = ZoneInfo("America/Los_Angeles")
TEN_LONDON = datetime(2026, 12, 15, 10, 0, tzinfo=LONDON)


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("ada.admin", "ada@jlf.example", "pw-ada-12345")
    client.force_login(user)
    return client


@pytest.fixture
def event():
    return EventFactory(
        starts_at=TEN_LONDON, ends_at=datetime(2026, 12, 15, 15, 0, tzinfo=LONDON), timezone="Europe/London"
    )


def change_url(event):
    return reverse("admin:registrations_event_change", args=[event.pk])


def form_data(client, event, **changes):
    """The event's change form as the browser would post it back, with ``changes`` typed in."""
    response = client.get(change_url(event))
    form = response.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if name in ("starts_at", "ends_at"):
            local = value.astimezone(ZoneInfo(event.timezone))
            data[f"{name}_0"], data[f"{name}_1"] = f"{local:%Y-%m-%d}", f"{local:%H:%M:%S}"
        elif value is True:
            data[name] = "on"
        elif value not in (None, False):
            data[name] = value
    data.update(
        {
            "mappings-TOTAL_FORMS": "0",
            "mappings-INITIAL_FORMS": "0",
            "mappings-MIN_NUM_FORMS": "0",
            "mappings-MAX_NUM_FORMS": "1000",
        }
    )
    data.update(changes)
    return data


def test_the_start_typed_as_ten_shows_ten_london_on_the_form(admin_client, event):
    data = form_data(admin_client, event)
    assert data["starts_at_1"] == "10:00:00" and data["timezone"] == "Europe/London"


def test_changing_the_time_zone_stops_and_says_what_would_happen_to_the_start(admin_client, event):
    response = admin_client.post(change_url(event), form_data(admin_client, event, timezone="America/Los_Angeles"))
    assert response.status_code == 200  # not saved: the operator has to choose
    page = " ".join(html.unescape(response.content.decode()).split())
    assert "You changed the time zone from Europe/London to America/Los_Angeles" in page
    # both outcomes, in both zones, with the shift spelled out
    assert "Keep the same moment" in page and "02:00 PST" in page
    assert "Keep the clock time" in page and "18:00 GMT" in page and "8 hours later" in page
    event.refresh_from_db()
    assert event.timezone == "Europe/London" and event.starts_at == TEN_LONDON


def test_keeping_the_same_moment_changes_the_zone_but_not_when_the_event_happens(admin_client, event):
    data = form_data(admin_client, event, timezone="America/Los_Angeles", zone_change="moment")
    response = admin_client.post(change_url(event), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    event.refresh_from_db()
    assert event.timezone == "America/Los_Angeles"
    assert event.starts_at == TEN_LONDON
    assert event.ends_at == datetime(2026, 12, 15, 15, 0, tzinfo=LONDON)
    # the admin now shows the same moment in the new zone
    page = admin_client.get(change_url(event)).content.decode()
    assert 'name="starts_at_1" value="02:00:00"' in page
    row = AuditLog.objects.get(action="event.updated", event=event)
    assert row.before["timezone"] == "Europe/London" and row.after["timezone"] == "America/Los_Angeles"
    assert "starts_at" not in row.after  # the moment did not change
    assert row.after["time_zone_change"] == "kept the same moment"
    assert "Europe/London" in row.message and "America/Los_Angeles" in row.message


def test_keeping_the_clock_time_moves_the_event_and_the_history_says_by_how_much(admin_client, event):
    data = form_data(admin_client, event, timezone="America/Los_Angeles", zone_change="clock")
    response = admin_client.post(change_url(event), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    event.refresh_from_db()
    assert event.timezone == "America/Los_Angeles"
    assert event.starts_at == datetime(2026, 12, 15, 10, 0, tzinfo=LA)
    row = AuditLog.objects.get(action="event.updated", event=event)
    assert {"timezone", "starts_at", "ends_at"} <= set(row.after)
    assert row.after["time_zone_change"] == "kept the clock time"
    assert "8 hours later" in row.message


def test_a_save_without_a_zone_change_asks_nothing(admin_client, event):
    response = admin_client.post(change_url(event), form_data(admin_client, event, location="The Meadow"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    event.refresh_from_db()
    assert event.location == "The Meadow" and event.starts_at == TEN_LONDON


def test_a_new_event_is_read_in_its_zone_without_a_question(admin_client):
    """Nothing was shown in another zone before: a new event's times are simply in its zone."""
    response = add_event(
        admin_client,
        name="Winter Gathering",
        slug="winter-gathering",
        starts_at_0="2027-01-10",
        starts_at_1="10:00:00",
        timezone="Europe/London",
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Event.objects.get(slug="winter-gathering").starts_at == datetime(2027, 1, 10, 10, 0, tzinfo=LONDON)


def test_a_start_the_old_zones_clocks_skip_can_only_keep_its_clock_time(admin_client, event):
    """01:30 on 28 March 2027 does not exist in London (clocks go from 01:00 to 02:00): there is
    no 'same moment' to keep, so only the clock time is offered, and nothing breaks."""
    data = form_data(
        admin_client, event, timezone="America/Los_Angeles", starts_at_0="2027-03-28", starts_at_1="01:30:00"
    )
    data.update(ends_at_0="2027-03-28", ends_at_1="05:00:00")
    response = admin_client.post(change_url(event), data)
    assert response.status_code == 200
    page = " ".join(html.unescape(response.content.decode()).split())
    assert "Keep the clock time" in page and "Keep the same moment" not in page
    response = admin_client.post(change_url(event), {**data, "zone_change": "clock"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    event.refresh_from_db()
    assert event.starts_at == datetime(2027, 3, 28, 1, 30, tzinfo=LA)
