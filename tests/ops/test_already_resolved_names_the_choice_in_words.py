"""A second operator pressing a choice on a card someone already closed is told 'Already resolved
(…) by … on …'. The brackets gave the stored resolution code with spaces: after 'Not ours' on an
unmatched event's card it read 'Already resolved (ignored)', a word no button on the card says,
and 'kept' after 'Keep both'. They name the choice as the card did."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from registrations.models import ReviewItem

pytestmark = pytest.mark.django_db


def act(client, item, name, data=None, headers=None):
    return client.post(reverse("ops:queue_action", args=[item.pk, name]), data or {}, headers=headers or {})


@pytest.mark.parametrize(
    "kind, action, data, words",
    [
        (ReviewItem.Kind.UNMATCHED_EVENT, "ignore", {}, "Already resolved (not ours) by olive.operator"),
        (ReviewItem.Kind.DUPLICATE_PAYMENT, "keep", {"note": "second seat"}, "Already resolved (both kept) by"),
        (ReviewItem.Kind.PAID_CANCELLED, "credit", {"note": "autumn"}, "Already resolved (kept as credit) by"),
    ],
)
def test_a_second_click_on_a_closed_card_names_the_choice_made_in_the_cards_words(
    ops_client, world, htmx_headers, kind, action, data, words
):
    item = world.items[kind]
    act(ops_client, item, action, data, htmx_headers())
    assert ReviewItem.objects.get(pk=item.pk).state != ReviewItem.State.OPEN
    again = html.unescape(act(ops_client, item, action, data, htmx_headers()).content.decode())
    assert words in again, again
