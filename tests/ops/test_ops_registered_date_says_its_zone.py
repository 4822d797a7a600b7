"""The "Registered" column of an event's registrations says when, in the event's time zone, with
the zone named — not the server's (UTC) date, which for an evening registration in California is
already the next day."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from registrations.models import Registration

pytestmark = pytest.mark.django_db


def test_the_registered_column_shows_the_event_zone_date_and_names_the_zone(ops_client, world):
    reg = Registration.objects.get(attendee__email="calm.complete@example.org")
    # 03:30 UTC on 3 Dec is 19:30 on 2 Dec in Los Angeles (the event's zone).
    Registration.objects.filter(pk=reg.pk).update(created_at=datetime(2026, 12, 3, 3, 30, tzinfo=UTC))
    page = ops_client.get(reverse("ops:event", args=[world.event.slug]) + "?q=calm").content.decode()
    cell = re.search(r'data-label="Registered">([^<]*)</td>', page).group(1).strip()
    assert cell == "2 Dec 2026 19:30 PST", cell
