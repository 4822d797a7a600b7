"""A registration that "Needs review" says, on its own page, which queue case holds it and links
to that case, so the operator who arrived from the event list (or a search) can resolve it
without hunting through the queue. Closed cases are not listed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from registrations.models import ReviewItem

pytestmark = pytest.mark.django_db


def _page(client, reg):
    return client.get(reverse("ops:registration", args=[reg.event.slug, reg.pk])).content.decode()


def test_a_disputed_registration_links_to_its_dispute_card(ops_client, world):
    item = world.items["dispute"]
    page = _page(ops_client, item.registration)
    assert "Dispute" in page
    assert f'href="{reverse("ops:queue_card", args=[item.pk])}"' in page


def test_both_people_of_a_suggested_match_link_to_the_same_card(ops_client, world):
    item = world.items["suggested_match"]
    link = f'href="{reverse("ops:queue_card", args=[item.pk])}"'
    assert link in _page(ops_client, item.registration)
    assert link in _page(ops_client, item.counterpart)


def test_a_resolved_case_is_no_longer_linked(ops_client, world):
    item = world.items["dispute"]
    ReviewItem.objects.filter(pk=item.pk).update(state=ReviewItem.State.RESOLVED)
    page = _page(ops_client, item.registration)
    assert f'href="{reverse("ops:queue_card", args=[item.pk])}"' not in page
