"""The event page's "by status" bar has a colour legend, as each dashboard card has: every status
with registrations, its colour dot, its count, and a link that filters the list to it."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from registrations.models import Registration, Status

pytestmark = pytest.mark.django_db


def _legend(html):
    found = re.search(r'<ul class="status-legend">(.*?)</ul>', html, re.S)
    assert found, "no status legend"
    return found.group(1)


def test_the_event_page_status_bar_has_the_dashboards_colour_legend(ops_client, world):
    slug = world.event.slug
    legend = _legend(ops_client.get(reverse("ops:event", args=[slug])).content.decode())
    counts = {}
    for status in Registration.objects.filter(event=world.event).values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    assert len(counts) > 1
    for value, n in counts.items():
        label = str(Status(value).label)
        item = re.search(
            rf'<a href="{re.escape(reverse("ops:event", args=[slug]))}\?status={value}">'
            rf'<span class="dot st-{value}" aria-hidden="true"></span>{re.escape(label)} <strong>{n}</strong></a>',
            legend,
        )
        assert item, (value, label, n, legend)
    page = ops_client.get(reverse("ops:dashboard")).content.decode()
    card = re.search(rf'<article class="event-card panel" data-event="{slug}">(.*?)</article>', page, re.S)
    dashboard = _legend(card.group(1))  # the same legend as the event's dashboard card
    assert re.sub(r"\s+", " ", dashboard).strip() == re.sub(r"\s+", " ", legend).strip()


def test_an_event_without_registrations_says_so_under_its_status_bar(ops_client, event):
    legend = _legend(ops_client.get(reverse("ops:event", args=[event.slug])).content.decode())
    assert "No registrations yet" in legend
