"""A booking's appointment time in the admin is in its event's own zone, with the zone named, as
the event list and Acuity show it. The booking list and the bookings on a registration's page gave
it in the server's zone ("15 Dec 2026 18:00:00 UTC" for a 10:00 Los Angeles appointment), so an
operator comparing with Acuity saw the wrong hour."""

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
TEN_LA = datetime(2026, 12, 15, 10, 0, tzinfo=LA)


@pytest.fixture
def booking(settings):
    settings.TIME_ZONE = "UTC"
    event = EventFactory(starts_at=TEN_LA, timezone="America/Los_Angeles")
    reg = RegistrationFactory(event=event)
    return Booking.objects.create(
        acuity_appointment_id="770001", event=event, registration=reg, starts_at=TEN_LA, email="bea@example.org"
    )


def _text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_the_booking_list_gives_the_appointment_time_in_the_events_zone(admin_client, booking):
    page = admin_client.get(reverse("admin:registrations_booking_changelist")).content.decode()
    cells = re.findall(r'<td class="field-starts[^"]*"[^>]*>(.*?)</td>', page, re.S)
    assert [_text(c) for c in cells] == ["15 Dec 2026 10:00 PST"], cells
    assert "18:00" not in _text(page)


def test_the_booking_list_still_sorts_by_appointment_time(admin_client, booking):
    page = admin_client.get(reverse("admin:registrations_booking_changelist")).content.decode()
    assert re.search(r'<th[^>]*class="sortable[^"]*column-starts', page), "appointment time is not sortable"


def test_a_registrations_bookings_give_the_appointment_time_in_the_events_zone(admin_client, booking):
    url = reverse("admin:registrations_registration_change", args=[booking.registration.pk])
    page = admin_client.get(url).content.decode()
    inline = re.search(r'<td class="field-starts[^"]*"[^>]*>(.*?)</td>', page, re.S)
    assert inline, "no appointment time in the registration's bookings"
    assert _text(inline.group(1)) == "15 Dec 2026 10:00 PST"


def test_a_bookings_own_page_gives_its_times_in_the_events_zone(admin_client, booking):
    page = admin_client.get(reverse("admin:registrations_booking_change", args=[booking.pk])).content.decode()
    starts = re.search(r'field-starts_at.*?<div class="readonly">(.*?)</div>', page, re.S).group(1)
    assert _text(starts) == "15 Dec 2026 10:00:00 PST"


def test_a_booking_with_no_event_yet_names_the_servers_zone(admin_client, booking):
    Booking.objects.filter(pk=booking.pk).update(event=None, registration=None)
    page = admin_client.get(reverse("admin:registrations_booking_changelist")).content.decode()
    cells = re.findall(r'<td class="field-starts[^"]*"[^>]*>(.*?)</td>', page, re.S)
    assert [_text(c) for c in cells] == ["15 Dec 2026 18:00:00 UTC"], cells
