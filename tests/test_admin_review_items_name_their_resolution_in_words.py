"""The admin's review item list gave how each card was closed as its stored code
('kept_as_credit', 'seats_assigned', 'ignored'); it reads as the queue says it ('kept as credit',
'seats assigned', 'not ours')."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from registrations.models import ReviewItem
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db


def test_the_review_item_list_names_each_resolution_in_words(admin_client):
    event = EventFactory()
    for n, resolution in enumerate(["kept_as_credit", "ignored", "seats_assigned"]):
        ReviewItem.objects.create(
            kind=ReviewItem.Kind.PAID_CANCELLED,
            key=f"walk2:{n}",
            event=event,
            state=ReviewItem.State.RESOLVED,
            resolution=resolution,
            explanation="…",
        )
    page = admin_client.get(reverse("admin:registrations_reviewitem_changelist")).content.decode()
    cells = re.findall(r'<td class="field-resolution[^"]*"[^>]*>(.*?)</td>', page, re.S)
    words = sorted(html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells)
    assert words == ["kept as credit", "not ours", "seats assigned"], words
