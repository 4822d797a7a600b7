"""No operator page answers 500 to what a hand-edited or stale URL, or a forged form, sends: odd
query parameters, unknown ids and slugs, wrong methods. Each gets a page, a 4xx or a redirect."""

from __future__ import annotations

import itertools

import pytest
from django.urls import reverse

from registrations.models import Registration, ReviewItem

pytestmark = pytest.mark.django_db

ODD = ["", "0", "-1", "999999999999999999999", "abc", "%00", "a\x00b", "<script>", "1e9", "[]", "ü", "../../etc"]


def urls(world):
    reg = Registration.objects.filter(event=world.event).first()
    item = ReviewItem.objects.filter(state="open").first()
    slug = world.event.slug
    return [
        reverse("ops:dashboard"),
        reverse("ops:event", args=[slug]),
        reverse("ops:queue"),
        reverse("ops:queue_card", args=[item.pk]),
        reverse("ops:registration", args=[slug, reg.pk]),
        reverse("ops:walk_in", args=[slug]),
        reverse("ops:export", args=[slug, "csv"]),
    ]


def test_odd_query_parameters_never_answer_500(ops_client, world):
    params = ["page", "q", "sort", "status", "past", "mode", "close", "event", "kind"]
    for url, (name, value) in itertools.product(urls(world), itertools.product(params, ODD)):
        response = ops_client.get(url, {name: value})
        assert response.status_code < 500, (url, name, value, response.status_code)


def test_unknown_ids_slugs_and_formats_are_404_not_500(ops_client, world):
    slug = world.event.slug
    other_reg = Registration.objects.exclude(event=world.event).first()
    for url in [
        reverse("ops:event", args=["no-such-event"]),
        reverse("ops:registration", args=[slug, 999999]),
        reverse("ops:queue_card", args=[999999]),
        reverse("ops:export", args=[slug, "exe"]),
        reverse("ops:export", args=["no-such-event", "csv"]),
    ] + ([reverse("ops:registration", args=[slug, other_reg.pk])] if other_reg else []):
        assert ops_client.get(url).status_code == 404, url


def test_forged_or_empty_posts_to_every_action_never_answer_500(ops_client, world):
    slug = world.event.slug
    reg = Registration.objects.filter(event=world.event).first()
    names = ["map", "ignore", "merge", "dismiss", "assign", "refund", "credit", "acknowledge", "keep", "nonsense"]
    for item in ReviewItem.objects.filter(state="open"):
        for name in names:
            odd = {"event": "abc", "amount": "-5", "note": "x" * 5000, "next": "https://evil.example/"}
            for data in ({}, odd, {"amount": "1e309", "confirm": "1"}):
                response = ops_client.post(reverse("ops:queue_action", args=[item.pk, name]), data)
                assert response.status_code < 500, (item.kind, name, data, response.status_code)
                if response.status_code in (301, 302):
                    assert not response.url.startswith("https://evil.example"), response.url
    for url in [reverse("ops:mark_paid", args=[slug, reg.pk]), reverse("ops:mark_booked", args=[slug, reg.pk])]:
        for data in ({}, {"reason": "", "amount": "abc", "method": "bitcoin"}):
            assert ops_client.post(url, data).status_code < 500, (url, data)
    walk_in = reverse("ops:walk_in", args=[slug])
    for data in ({}, {"email": "not-an-email", "amount": "-1", "method": "bitcoin"}, {"amount": "1e309"}):
        assert ops_client.post(walk_in, data).status_code < 500, data
