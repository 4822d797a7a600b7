"""Speed: the number of queries each operator page runs does not grow with the number of
registrations (10 vs 200 here; bench/ops_pages.py times 5,000)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from .scenario import bulk_registrations

pytestmark = pytest.mark.django_db

# Generous ceilings: the point is that the counts are flat, and that they stay small.
MAX_QUERIES = {"dashboard": 20, "event": 20, "event_table": 12, "queue": 20, "export": 15}


def pages(world):
    slug = world.event.slug
    return {
        "dashboard": (reverse("ops:dashboard"), {}),
        "event": (reverse("ops:event", args=[slug]), {}),
        "event_table": (
            reverse("ops:event", args=[slug]) + "?status=complete&sort=-created",
            {"HX-Request": "true", "HX-Target": "registrations"},
        ),
        "queue": (reverse("ops:queue"), {}),
        "export": (reverse("ops:export", args=[slug, "csv"]), {}),
    }


def count(client, url, headers):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, headers=headers)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_query_counts_do_not_grow_with_registrations(ops_client, world, django_assert_max_num_queries):
    bulk_registrations(world.event, 10)
    small = {name: count(ops_client, url, h) for name, (url, h) in pages(world).items()}
    bulk_registrations(world.event, 190, start=10)
    large = {name: count(ops_client, url, h) for name, (url, h) in pages(world).items()}
    assert large == small
    for name, (url, headers) in pages(world).items():
        with django_assert_max_num_queries(MAX_QUERIES[name]):
            response = ops_client.get(url, headers=headers)
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)
