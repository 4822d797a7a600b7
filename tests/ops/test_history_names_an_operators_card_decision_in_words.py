"""A registration's history names what an operator decided on its queue card in words ("Review
item resolved: kept as credit"), as the queue's own 'Already resolved (kept as credit)' does, not
by the audit trail's code ('review.resolved.kept_as_credit'), which an operator walking the
history of a refunded-then-kept-as-credit registration read as a developer's leftover."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from registrations.models import ReviewItem

pytestmark = pytest.mark.django_db


def act(client, item, name, data, headers):
    return client.post(reverse("ops:queue_action", args=[item.pk, name]), data, headers=headers)


def history(client, item) -> str:
    reg = item.registration
    return html.unescape(client.get(reverse("ops:registration", args=[reg.event.slug, reg.pk])).content.decode())


@pytest.mark.parametrize(
    "kind, action, words",
    [
        (ReviewItem.Kind.PAID_CANCELLED, "credit", "Review item resolved: kept as credit"),
        (ReviewItem.Kind.DUPLICATE_PAYMENT, "keep", "Review item resolved: both kept"),
        (ReviewItem.Kind.DISPUTE, "acknowledge", "Review item resolved: acknowledged"),
    ],
)
def test_the_history_names_the_operators_decision_on_the_card_in_words(
    ops_client, world, htmx_headers, kind, action, words
):
    item = world.items[kind]
    act(ops_client, item, action, {"note": "talked to them"}, htmx_headers())
    item.refresh_from_db()
    assert item.state == ReviewItem.State.RESOLVED
    page = history(ops_client, item)
    assert "review.resolved" not in page
    assert words in page
