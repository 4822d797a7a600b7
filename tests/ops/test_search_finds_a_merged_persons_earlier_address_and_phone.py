"""An operator searches the event table for the address or phone number someone used before
they were merged into another registration (they email from the old address, or call from the
old phone): the survivor's registration is found, and its row says why it matched. A phone
number typed the way people write it (spaces, dashes, brackets, national or international)
finds the number stored as E.164."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from registrations.audit import Actor
from registrations.models import Attendee, Registration
from registrations.resolutions import merge_registrations

from .scenario import bulk_registrations, make_event, pay

pytestmark = pytest.mark.django_db

OLD, NEW = "river.old@example.com", "river.stone@example.org"
OLD_PHONE, NEW_PHONE = "+14155550199", "+14155550123"
TABLE = {"HX-Request": "true", "HX-Target": "registrations"}


@pytest.fixture
def merged(operator):
    """River paid from the old address and phone, then from the new ones; the operator merged
    the old registration into the new one."""
    event = make_event()
    pay(OLD, "River Old", phone=OLD_PHONE)
    pay(NEW, "River Stone", phone=NEW_PHONE)
    old = Registration.objects.get(attendee__email=OLD)
    keep = Registration.objects.get(attendee__email=NEW)
    merge_registrations(keep, old, Actor.operator(operator), reason="same person")
    assert not Attendee.objects.filter(email=OLD).exists()
    return event, keep


def search(client, event, q):
    response = client.get(reverse("ops:event", args=[event.slug]), {"q": q}, headers=TABLE)
    assert response.status_code == 200
    return response.content.decode()


def test_searching_an_address_used_before_a_merge_finds_the_survivor_and_says_why(ops_client, merged):
    event, keep = merged
    html = search(ops_client, event, OLD)
    assert f'id="reg-{keep.pk}"' in html and "1 registration" in html
    assert f"matched an earlier address: {OLD}" in html
    # A part of it, or in capitals, as with the current address.
    html = search(ops_client, event, "RIVER.OLD@")
    assert f'id="reg-{keep.pk}"' in html and f"matched an earlier address: {OLD}" in html


def test_searching_the_current_address_shows_no_earlier_address_hint(ops_client, merged):
    event, keep = merged
    html = search(ops_client, event, "river")
    assert f'id="reg-{keep.pk}"' in html and "matched an earlier" not in html


@pytest.mark.parametrize("typed", ["+14155550199", "(415) 555-0199", "415-555-0199", "+1 415 555 0199"])
def test_searching_a_phone_number_used_before_a_merge_finds_the_survivor_and_says_why(ops_client, merged, typed):
    event, keep = merged
    html = search(ops_client, event, typed)
    assert f'id="reg-{keep.pk}"' in html and "1 registration" in html
    assert f"matched an earlier phone number: {OLD_PHONE}" in html


@pytest.mark.parametrize("typed", ["+1 415 555 0123", "(415) 555-0123", "1-415-555-0123", "011 1 415 555 0123"])
def test_a_phone_number_typed_in_another_format_finds_the_stored_number(ops_client, merged, typed):
    event, keep = merged
    html = search(ops_client, event, typed)
    assert f'id="reg-{keep.pk}"' in html and "matched an earlier" not in html


@pytest.mark.parametrize("typed", ["07700 900123", "0044 7700 900123", "+44 7700 900123", "+44 (0)7700 900123"])
def test_a_foreign_number_typed_in_its_national_or_international_form_is_found(ops_client, operator, typed):
    event = make_event()
    pay("ada@example.co.uk", "Ada Lovelace", phone="+447700900123")
    reg = Registration.objects.get(attendee__email="ada@example.co.uk")
    assert reg.attendee.phone == "+447700900123"
    html = search(ops_client, event, typed)
    assert f'id="reg-{reg.pk}"' in html


def test_a_merged_number_since_given_to_someone_new_finds_only_its_new_holder(ops_client, merged):
    """Numbers are given to new people: once an attendee created after the merge has the old
    number, it names them, not the merged person (as for a STOP texted from it)."""
    event, keep = merged
    pay("new.holder@example.org", "New Holder", phone=OLD_PHONE)
    holder = Registration.objects.get(attendee__email="new.holder@example.org")
    html = search(ops_client, event, OLD_PHONE)
    assert f'id="reg-{holder.pk}"' in html and f'id="reg-{keep.pk}"' not in html


def test_the_csv_export_of_an_earlier_address_search_has_the_survivor(ops_client, merged):
    event, keep = merged
    response = ops_client.get(reverse("ops:export", args=[event.slug, "csv"]), {"q": OLD})
    body = b"".join(response.streaming_content).decode()
    assert NEW in body and keep.reference in body


@pytest.mark.parametrize("q", [OLD, "(415) 555-0199"])
def test_searching_an_earlier_address_or_phone_runs_as_many_queries_for_10_as_for_200(ops_client, merged, q):
    event, _ = merged

    def count():
        with CaptureQueriesContext(connection) as ctx:
            search(ops_client, event, q)
        return len(ctx.captured_queries)

    bulk_registrations(event, 10)
    small = count()
    bulk_registrations(event, 190, start=10)
    assert count() == small <= 12


def test_an_earlier_address_with_digits_says_why_even_when_the_phone_has_those_digits(ops_client, operator):
    """The digits of an address are not a phone number: searching "river.0123@…" finds the person
    through that earlier address (and says so), not through a phone number ending in 0123, and
    does not find a stranger whose number has 0123 in it."""
    event = make_event()
    pay("river.0123@example.com", "River Old", phone=OLD_PHONE)
    pay(NEW, "River Stone", phone=NEW_PHONE)
    pay("someone.else@example.org", "Someone Else", phone="+12125550123")
    keep = Registration.objects.get(attendee__email=NEW)
    other = Registration.objects.get(attendee__email="river.0123@example.com")
    merge_registrations(keep, other, Actor.operator(operator), reason="same person")
    html = search(ops_client, event, "river.0123@example.com")
    assert f'id="reg-{keep.pk}"' in html and "1 registration" in html
    assert "matched an earlier address: river.0123@example.com" in html
