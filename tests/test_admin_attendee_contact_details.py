"""An attendee's address and phone number edited in the admin are stored the way every signal
stores them (so the next payment, booking or STOP text still finds the person), an address or
number that cannot be one is refused with a message, and every such edit is in the audit trail."""

from __future__ import annotations

import pytest
from django.urls import reverse

from registrations.models import Attendee, AttendeeAlias, AuditLog, Registration
from registrations.services import apply_payment
from tests.domain.builders import PLINK, paid
from tests.factories import AttendeeFactory, EventFactory, EventMappingFactory

pytestmark = pytest.mark.django_db


def _edit(admin_client, attendee, **changes):
    url = reverse("admin:registrations_attendee_change", args=[attendee.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {name: form.initial.get(name, field.initial) for name, field in form.fields.items()}
    data = {k: ("" if v is None else v) for k, v in data.items() if v is not False}
    data.update(changes)
    data.update({"aliases-TOTAL_FORMS": "0", "aliases-INITIAL_FORMS": "0", "aliases-MAX_NUM_FORMS": "1000"})
    return admin_client.post(url, data)


def test_a_phone_number_typed_as_people_write_it_is_stored_as_signals_store_it(admin_client):
    river = AttendeeFactory(email="river@example.org", phone="")
    response = _edit(admin_client, river, phone="(415) 555-0199")
    assert response.status_code == 302, response.context["adminform"].form.errors
    river.refresh_from_db()
    assert river.phone == "+14155550199"


def test_a_phone_number_that_cannot_be_one_is_refused_with_a_message(admin_client):
    river = AttendeeFactory(email="river@example.org", phone="+14155550199")
    response = _edit(admin_client, river, phone="call me")
    assert response.status_code == 200
    assert "not a phone number" in str(response.context["adminform"].form.errors["phone"]).lower()
    river.refresh_from_db()
    assert river.phone == "+14155550199"


def test_an_address_typed_with_capitals_and_spaces_still_matches_the_next_payment(admin_client):
    event = EventFactory()
    EventMappingFactory(event=event, kind="stripe_payment_link", value=PLINK)
    river = AttendeeFactory(email="old@example.org")
    response = _edit(admin_client, river, email="  River@Example.ORG ")
    assert response.status_code == 302, response.context["adminform"].form.errors
    river.refresh_from_db()
    assert river.email == "river@example.org"
    apply_payment(paid(1, email="river@example.org"))
    assert Registration.objects.get(event=event).attendee_id == river.pk
    assert Attendee.objects.count() == 1


def test_an_address_another_attendee_has_is_refused_whatever_its_capitals(admin_client):
    AttendeeFactory(email="sky@example.org")
    AttendeeAlias.objects.create(email="sky.work@example.org", attendee=AttendeeFactory(email="sky2@example.org"))
    river = AttendeeFactory(email="river@example.org")
    for taken in ("Sky@Example.org", "SKY.WORK@example.org"):
        response = _edit(admin_client, river, email=taken)
        assert response.status_code == 200
        assert "already" in str(response.context["adminform"].form.errors["email"]).lower()
    river.refresh_from_db()
    assert river.email == "river@example.org"


def test_an_address_that_is_not_one_is_refused(admin_client):
    river = AttendeeFactory(email="river@example.org")
    response = _edit(admin_client, river, email="river at example")
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"]


def test_an_edit_in_the_admin_is_in_the_audit_trail_with_who_and_what(admin_client):
    river = AttendeeFactory(email="river@example.org", phone="", name="River")
    _edit(admin_client, river, phone="+1 415 555 0199", name="River Stone", sms_opt_out="on")
    row = AuditLog.objects.get(action="attendee.updated", object_id=str(river.pk))
    assert row.before == {"name": "River", "phone": "", "sms_opt_out": False}
    assert row.after == {"name": "River Stone", "phone": "+14155550199", "sms_opt_out": True}
    assert row.actor_user is not None and row.actor_user.username == "admin"


def test_an_alias_added_in_the_admin_is_stored_normalised_refused_when_taken_and_audited(admin_client):
    river = AttendeeFactory(email="river@example.org")
    AttendeeFactory(email="sky@example.org")
    url = reverse("admin:registrations_attendeealias_add")
    taken = admin_client.post(url, {"email": "SKY@example.org", "attendee": river.pk, "reason": "typo"})
    assert taken.status_code == 200 and "already" in str(taken.context["adminform"].form.errors["email"]).lower()
    response = admin_client.post(url, {"email": " River.Work@Example.org", "attendee": river.pk, "reason": "work"})
    assert response.status_code == 302
    assert AttendeeAlias.objects.get().email == "river.work@example.org"
    row = AuditLog.objects.get(action="attendee.alias_learned")
    assert row.after["alias"] == "river.work@example.org" and row.after["attendee"] == "river@example.org"


def test_after_an_address_is_changed_in_the_admin_a_payment_under_the_old_one_still_finds_the_person(admin_client):
    # The old address is what Stripe and Acuity still have (it came from them): it stays theirs.
    event = EventFactory()
    EventMappingFactory(event=event, kind="stripe_payment_link", value=PLINK)
    river = AttendeeFactory(email="river@old.example")
    assert _edit(admin_client, river, email="river@new.example").status_code == 302
    assert AttendeeAlias.objects.get(email="river@old.example").attendee_id == river.pk
    apply_payment(paid(1, email="river@old.example"))
    assert Registration.objects.get(event=event).attendee_id == river.pk
    assert Attendee.objects.count() == 1
