"""Removing an event mapping in the admin: the confirmation step says how many stored payments and
bookings came in through it, and that they stay with their registrations (removing a mapping
moves nothing already matched; only new payments or bookings with that key go unmatched)."""

import pytest
from django.urls import reverse

from registrations.models import EventMapping, Payment
from registrations.services import apply_booking, apply_payment

from .builders import ATYPE, PLINK, booked, paid
from .test_event_settings_rederive import change_event_in_admin

pytestmark = pytest.mark.django_db


@pytest.fixture
def used(event):
    for n in range(3):
        apply_payment(paid(n, f"p{n}@example.org", name=f"Payer {n}"))
    apply_booking(booked(100, "p0@example.org", first="Payer", last="Zero"))
    apply_payment(paid(9, "other@example.org", plink="plink_elsewhere"))  # another key: not counted
    assert Payment.objects.filter(event=event).count() == 3
    return event


SAYS = "3 payments and 0 bookings were matched through this mapping; they stay with their registrations"


def test_the_delete_confirmation_of_a_mapping_says_how_many_payments_and_bookings_used_it(admin_client, used):
    mapping = EventMapping.objects.get(value=PLINK)
    page = admin_client.get(reverse("admin:registrations_eventmapping_delete", args=[mapping.pk])).content.decode()
    assert SAYS in page, page

    booking_mapping = EventMapping.objects.get(value=ATYPE)
    url = reverse("admin:registrations_eventmapping_delete", args=[booking_mapping.pk])
    assert "0 payments and 1 booking were matched through this mapping" in admin_client.get(url).content.decode()


def test_deleting_selected_mappings_says_how_many_payments_and_bookings_used_each(admin_client, used):
    mapping = EventMapping.objects.get(value=PLINK)
    page = admin_client.post(
        reverse("admin:registrations_eventmapping_changelist"),
        {"action": "delete_selected", "_selected_action": [mapping.pk]},
    ).content.decode()
    assert "Are you sure" in page
    assert SAYS in page, page


def test_removing_a_mapping_from_the_event_page_says_what_used_it(admin_client, used):
    mapping = EventMapping.objects.get(value=PLINK)
    index = list(used.mappings.order_by("pk").values_list("pk", flat=True)).index(mapping.pk)
    response = change_event_in_admin(admin_client, used, **{f"mappings-{index}-DELETE": "on"})
    assert not EventMapping.objects.filter(value=PLINK).exists()
    assert SAYS in response.content.decode()
    assert Payment.objects.filter(event=used, registration__isnull=False).count() == 3  # they did stay
