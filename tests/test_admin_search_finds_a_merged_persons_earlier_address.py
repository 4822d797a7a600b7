"""In the admin, searching registrations (or attendees) for an address someone used before they
were merged into another registration finds the survivor's registration (attendee)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from registrations.audit import Actor
from registrations.models import Registration
from registrations.resolutions import merge_registrations
from tests.ops.scenario import make_event, pay

pytestmark = pytest.mark.django_db

OLD, NEW = "river.old@example.com", "river.stone@example.org"


@pytest.fixture
def keep(db):
    make_event()
    pay(OLD, "River Old", phone="+14155550199")
    pay(NEW, "River Stone", phone="+14155550123")
    keep = Registration.objects.get(attendee__email=NEW)
    merge_registrations(keep, Registration.objects.get(attendee__email=OLD), Actor.system("test"), reason="same")
    return keep


def test_admin_registration_search_for_an_address_used_before_a_merge_finds_the_survivor(admin_client, keep):
    response = admin_client.get(reverse("admin:registrations_registration_changelist"), {"q": OLD})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [keep]


def test_admin_attendee_search_for_an_address_used_before_a_merge_finds_the_survivor(admin_client, keep):
    response = admin_client.get(reverse("admin:registrations_attendee_changelist"), {"q": OLD})
    assert list(response.context["cl"].result_list) == [keep.attendee]


@pytest.mark.parametrize("typed", ["(415) 555-0123", "+1 415 555 0123", "415-555-0123"])
def test_admin_registration_search_finds_a_phone_number_typed_as_people_write_it(admin_client, keep, typed):
    response = admin_client.get(reverse("admin:registrations_registration_changelist"), {"q": typed})
    assert list(response.context["cl"].result_list) == [keep]


def test_admin_registration_search_for_a_phone_number_used_before_a_merge_finds_the_survivor(admin_client, keep):
    response = admin_client.get(reverse("admin:registrations_registration_changelist"), {"q": "(415) 555-0199"})
    assert list(response.context["cl"].result_list) == [keep]


def test_admin_attendee_search_finds_a_phone_number_typed_with_dashes_and_one_used_before_a_merge(admin_client, keep):
    url = reverse("admin:registrations_attendee_changelist")
    assert list(admin_client.get(url, {"q": "415-555-0123"}).context["cl"].result_list) == [keep.attendee]
    assert list(admin_client.get(url, {"q": "415-555-0199"}).context["cl"].result_list) == [keep.attendee]
