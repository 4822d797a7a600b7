"""The queue's event choices (the filter at the top, and 'Map to this event' on an unmatched
event's card) name each event with its date. An evening event in California (Tue 15 Dec, 18:00
PST) read '16 Dec 2026' there, the date in the server's zone (UTC), while its own page, the
dashboard and Acuity say 15 December: the date is the event's own, in its zone."""

from __future__ import annotations

import html
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from .scenario import make_event

pytestmark = pytest.mark.django_db


def test_the_queues_event_choices_give_an_evening_events_own_date_not_the_servers(ops_client, world):
    la = ZoneInfo("America/Los_Angeles")
    make_event(
        plink="plink_evening",
        atype="7770001",
        name="Evening circle",
        slug="evening-circle",
        timezone="America/Los_Angeles",
        starts_at=datetime(2026, 12, 15, 18, 0, tzinfo=la),
        ends_at=datetime(2026, 12, 15, 20, 0, tzinfo=la),
    )
    page = html.unescape(ops_client.get(reverse("ops:queue")).content.decode())
    named = re.findall(r"<option value=\"[^\"]*\"[^>]*>Evening circle \(([^)]*)\)</option>", page)
    assert len(named) == 2, named  # the filter, and the unmatched event's card
    assert named == ["15 Dec 2026", "15 Dec 2026"], named
