"""The event admin shows and takes an event's start and end in the event's own time zone — the
zone every other page uses ("Tue 15 Dec 2026, 10:00 PST"). It showed them in the server's UTC
with no zone named: an event at 10:00 in Los Angeles read "18:00", and an operator typing 10:00
for a new event set it to 02:00 Los Angeles time."""

from __future__ import annotations

import html
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from registrations.models import Event
from tests.admin_forms import add_event
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("ada.admin", "ada@jlf.example", "pw-ada-12345")
    client.force_login(user)
    return client


def test_an_event_at_ten_in_los_angeles_reads_ten_in_its_admin_page(admin_client):
    event = EventFactory(
        starts_at=datetime(2026, 12, 15, 10, 0, tzinfo=LA), ends_at=datetime(2026, 12, 15, 15, 0, tzinfo=LA)
    )
    page = admin_client.get(reverse("admin:registrations_event_change", args=[event.pk])).content.decode()
    assert 'name="starts_at_1" value="10:00:00"' in page
    assert 'name="ends_at_1" value="15:00:00"' in page
    assert "In the event's time zone" in html.unescape(page)  # said next to the fields


def test_a_new_event_typed_at_ten_starts_at_ten_in_its_zone(admin_client):
    response = add_event(
        admin_client,
        name="Autumn Gathering",
        slug="autumn-gathering",
        starts_at_0="2027-10-01",
        starts_at_1="10:00:00",
        timezone="Europe/Paris",
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    event = Event.objects.get(slug="autumn-gathering")
    assert event.starts_at == datetime(2027, 10, 1, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))


def test_an_odd_event_address_in_the_admin_is_not_a_server_error(admin_client):
    response = admin_client.get("/admin/registrations/event/not-a-number/change/")
    assert response.status_code in (302, 404)
