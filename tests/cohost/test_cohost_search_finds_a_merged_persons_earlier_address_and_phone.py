"""A co-host searches their event's attendees for the address or phone number someone used
before the organisers merged them into another registration: the survivor's row is found and
says why it matched; a phone number typed with spaces or dashes finds the stored number."""

from __future__ import annotations

import pytest
from django.urls import reverse

from registrations.audit import Actor
from registrations.models import Registration
from registrations.resolutions import merge_registrations

from .conftest import pay, sign_in

pytestmark = pytest.mark.django_db

OLD, NEW = "river.old@example.com", "river.stone@example.org"
OLD_PHONE, NEW_PHONE = "+14155550199", "+14155550123"


@pytest.fixture
def merged(client, world):
    event = world.alice.event
    pay(event, OLD, "River Old", phone=OLD_PHONE)
    pay(event, NEW, "River Stone", phone=NEW_PHONE)
    keep = Registration.objects.get(attendee__email=NEW)
    merge_registrations(keep, Registration.objects.get(attendee__email=OLD), Actor.system("test"), reason="same")
    sign_in(client, world.alice.cohost)
    return event


def search(client, event, q):
    response = client.get(reverse("cohost:event", args=[event.slug]), {"q": q})
    assert response.status_code == 200
    return response.content.decode()


def test_cohost_searching_an_address_used_before_a_merge_finds_the_person_and_says_why(client, merged):
    body = search(client, merged, OLD)
    assert NEW in body and "Nobody matches" not in body
    assert f"matched an earlier address: {OLD}" in body
    assert "spring.complete@example.org" not in body


def test_cohost_searching_a_phone_number_used_before_a_merge_finds_the_person_and_says_why(client, merged):
    body = search(client, merged, "(415) 555-0199")
    assert NEW in body and f"matched an earlier phone number: {OLD_PHONE}" in body


def test_cohost_searching_a_phone_number_typed_with_dashes_finds_the_person(client, merged):
    body = search(client, merged, "415-555-0123")
    assert NEW in body and "matched an earlier" not in body
    assert "spring.complete@example.org" not in body


def test_cohost_csv_of_an_earlier_address_search_has_the_person(client, merged):
    response = client.get(reverse("cohost:export", args=[merged.slug]), {"q": OLD})
    assert NEW in response.content.decode()
