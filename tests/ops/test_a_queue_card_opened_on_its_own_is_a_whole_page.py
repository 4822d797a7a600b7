"""A queue card's own address (the "Assign N seats…" link, opened in a new tab, or followed without
JavaScript) is a whole operator page — with the navigation, the styles and a way back to the
queue — not a bare unstyled fragment meant for htmx to swap in."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_opening_assign_seats_in_a_new_tab_shows_a_whole_page(ops_client, world):
    item = world.items["group_payment"]
    response = ops_client.get(reverse("ops:queue_card", args=[item.pk]) + "?mode=assign")
    page = response.content.decode()
    assert response.status_code == 200
    assert "<title>" in page and "</html>" in page  # a page, not a fragment
    assert 'href="/static/ops/ops.css"' in page or "ops.css" in page  # styled like the rest
    assert 'id="nav-queue-count"' in page  # the operator navigation is there
    assert f'href="{reverse("ops:queue")}"' in page  # a way back to the queue
    assert f'id="item-{item.pk}"' in page and "Assign seats" in page  # the form itself


def test_htmx_still_gets_just_the_card_to_swap_in(ops_client, world, htmx_headers):
    item = world.items["group_payment"]
    response = ops_client.get(reverse("ops:queue_card", args=[item.pk]) + "?mode=assign", headers=htmx_headers())
    page = response.content.decode()
    assert page.lstrip().startswith("<article")
    assert "<html" not in page


def test_answering_on_the_cards_own_page_returns_to_the_queue_with_only_the_answer(ops_client, world):
    """Without JavaScript the form posts back with the card's own address as ``next``: once the
    card is closed, the operator lands on the queue told what they did — not "already resolved
    by you, nothing was changed"."""
    item = world.items["dispute"]
    card_url = reverse("ops:queue_card", args=[item.pk])
    response = ops_client.post(
        reverse("ops:queue_action", args=[item.pk, "acknowledge"]),
        {"note": "answered in Stripe", "next": card_url},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("ops:queue")
    said = [str(m) for m in response.context["messages"]]
    assert not any("Already resolved" in m for m in said), said
    assert len(said) == 1


def test_a_plain_answer_from_a_filtered_queue_returns_to_that_filtered_queue(ops_client, world):
    item = world.items["dispute"]
    back = reverse("ops:queue") + "?kind=dispute"
    response = ops_client.post(
        reverse("ops:queue_action", args=[item.pk, "acknowledge"]), {"note": "done", "next": back}
    )
    assert response["Location"] == back
