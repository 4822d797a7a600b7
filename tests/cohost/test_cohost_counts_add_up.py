"""A co-host's counts add up: "4 registered · 1 complete · 2 incomplete" left them wondering about
the fourth person. Someone who cancelled or was refunded is counted as such ("1 cancelled or
refunded"), on the events list and on the event page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from registrations.models import Registration, Status

from .conftest import pay, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_with_a_refund(client, world):
    pay(world.alice.event, "spring.refunded@example.org", "Spring Refunded")
    Registration.objects.filter(attendee__email="spring.refunded@example.org").update(status=Status.REFUNDED)
    sign_in(client, world.alice.cohost)
    return world.alice


def test_the_events_list_counts_the_refunded_so_the_numbers_add_up(client, alice_with_a_refund):
    body = client.get(reverse("cohost:index")).content.decode()
    assert "4 registered" in body and "1 complete" in body and "2 incomplete" in body
    assert "1 cancelled or refunded" in body


def test_the_event_page_counts_the_refunded_so_the_numbers_add_up(client, alice_with_a_refund):
    body = client.get(reverse("cohost:event", args=[alice_with_a_refund.event.slug])).content.decode()
    assert "4 registered" in body and "1 complete" in body and "2 incomplete" in body
    assert "1 cancelled or refunded" in body


def test_nobody_cancelled_no_such_pill(client, world):
    sign_in(client, world.alice.cohost)
    assert "cancelled or refunded" not in client.get(reverse("cohost:index")).content.decode()
    body = client.get(reverse("cohost:event", args=[world.alice.event.slug])).content.decode()
    assert "cancelled or refunded" not in body
