"""The grey "Already resolved … by X on …" note gives the time in the event's zone, named, as every
other time on the event's pages does (tests/ops/test_ops_times_say_their_zone.py). It gave the
server's UTC time: a card resolved at 10:30 in California read "18:30 UTC"."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from registrations.models import ReviewItem

pytestmark = pytest.mark.django_db


def _note(body: str) -> str:
    text = re.sub(r"<[^>]+>", " ", body.split("Already resolved", 1)[1].split("Nothing was changed", 1)[0])
    return " ".join(("Already resolved" + text).split())


@pytest.mark.parametrize("htmx", [True, False], ids=["in place", "plain"])
def test_already_resolved_gives_the_time_in_the_event_zone(ops_client, world, htmx_headers, htmx):
    item = world.items[ReviewItem.Kind.DISPUTE]
    act = reverse("ops:queue_action", args=[item.pk, "acknowledge"])
    ops_client.post(act, {"note": "evidence sent"}, headers=htmx_headers())
    ReviewItem.objects.filter(pk=item.pk).update(resolved_at=datetime(2026, 12, 3, 18, 30, tzinfo=UTC))

    if htmx:
        body = ops_client.post(act, {"note": "evidence sent"}, headers=htmx_headers()).content.decode()
    else:
        body = ops_client.post(act, {"note": "evidence sent"}, follow=True).content.decode()

    note = _note(body)
    assert "by olive.operator on 3 Dec 2026, 10:30 PST" in note, note
    assert "UTC" not in note and "18:30" not in note, note


def test_a_card_with_no_event_names_the_servers_zone(ops_client, world, htmx_headers, settings):
    settings.TIME_ZONE = "UTC"
    item = world.items[ReviewItem.Kind.UNMATCHED_EVENT]
    act = reverse("ops:queue_action", args=[item.pk, "ignore"])
    ops_client.post(act, {}, headers=htmx_headers())
    assert ReviewItem.objects.get(pk=item.pk).event is None
    ReviewItem.objects.filter(pk=item.pk).update(resolved_at=datetime(2026, 12, 3, 18, 30, tzinfo=UTC))

    note = _note(ops_client.post(act, {}, headers=htmx_headers()).content.decode())

    assert "by olive.operator on 3 Dec 2026, 18:30 UTC" in note, note
