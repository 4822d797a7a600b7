"""River booked spring and summer from home (home phone), and paid spring from work (work
phone). An operator merges home into work at spring: home's summer registration goes to work and
the home attendee is deleted. River is one person with two numbers.

* A reminder still queued for home's summer registration (a retry waiting) is River's: it
  belongs to the work attendee afterwards, and Twilio refusing it with 21610 stops River's texts.
* The home number still names River: a STOP texted from it stops River's texts (the merge
  carries stops both ways; a stop said from the old number is no different).
* Two merges in a row (home into work, work into a third address): the home address and number
  both lead to the last attendee; a later payment from the home address lands there, without
  bringing back the home or work attendee.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications import webhooks
from notifications.delivery import create_message, deliver
from notifications.models import NotificationLog
from registrations.audit import Actor
from registrations.models import Attendee, AttendeeAlias, AuditLog, EventMapping, Registration
from registrations.ops.timeline import registration_timeline
from registrations.resolutions import merge_registrations
from registrations.services import apply_booking, apply_payment
from tests.domain.builders import booked, paid
from tests.factories import EventFactory
from tests.fakes import twilio as fake_twilio_mod

pytestmark = pytest.mark.django_db

HOME, WORK, NEW = "river@home.example", "river@work.example", "river@new.example"
HOME_PHONE, WORK_PHONE, NEW_PHONE = "+14155550123", "+14155550188", "+14155550199"


def _event(slug, plink, atype):
    event = EventFactory(
        slug=slug, name=slug.title(), price=12000, sms_enabled=True, quiet_hours_start=0, quiet_hours_end=0
    )
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PAYMENT_LINK, value=plink, event=event)
    EventMapping.objects.create(kind=EventMapping.Kind.ACUITY_APPOINTMENT_TYPE, value=atype, event=event)
    return event


def _merge(event, keep_email, other_email):
    keep = Registration.objects.get(event=event, attendee__email=keep_email)
    other = Registration.objects.get(event=event, attendee__email=other_email)
    return merge_registrations(keep, other, Actor.system("test"), "same person")


def _stop_from(number):
    return webhooks.twilio_inbound(fake_twilio_mod.inbound_params(number, "STOP"))


@pytest.fixture
def river(db):
    """Home booked spring and summer (home phone), work paid spring (work phone); a payment
    reminder by text for home's summer registration is queued."""
    spring = _event("spring", "plink_spring", "111")
    summer = _event("summer", "plink_summer", "222")
    apply_booking(booked(1, HOME, phone=HOME_PHONE, atype="111"))
    apply_booking(booked(2, HOME, phone=HOME_PHONE, atype="222"))
    apply_payment(paid(3, WORK, phone=WORK_PHONE, plink="plink_spring"))
    summer_reg = Registration.objects.get(event=summer, attendee__email=HOME)
    queued, _ = create_message(
        channel="sms", kind="reminder_payment", recipient=HOME_PHONE, registration=summer_reg, body="Please pay"
    )
    return spring, summer, summer_reg, queued


def test_a_text_still_queued_for_the_merged_away_attendee_belongs_to_the_person_kept(river):
    spring, _summer, summer_reg, queued = river

    _merge(spring, WORK, HOME)

    work = Attendee.objects.get(email=WORK)
    assert not Attendee.objects.filter(email=HOME).exists()
    queued.refresh_from_db()
    assert queued.attendee_id == work.pk
    assert queued.registration_id == summer_reg.pk  # the registration it was for, now work's


def test_twilio_refusing_a_text_queued_before_the_merge_with_21610_stops_rivers_texts(river, fake_twilio):
    spring, _summer, _summer_reg, queued = river
    _merge(spring, WORK, HOME)
    fake_twilio.opted_out.add(HOME_PHONE)

    deliver(queued.pk)

    queued.refresh_from_db()
    assert queued.status == NotificationLog.Status.FAILED
    work = Attendee.objects.get(email=WORK)
    assert work.sms_opt_out
    row = AuditLog.objects.get(action="attendee.opted_out", object_id=str(work.pk))
    assert row.after["via"].startswith("twilio")


def test_a_stop_texted_from_the_home_number_after_the_merge_stops_rivers_texts(river):
    spring, *_ = river
    _merge(spring, WORK, HOME)
    work = Attendee.objects.get(email=WORK)
    assert work.phone == WORK_PHONE  # the kept attendee keeps its own number

    outcome = _stop_from(HOME_PHONE)

    work.refresh_from_db()
    assert work.sms_opt_out, outcome
    assert AuditLog.objects.filter(action="attendee.opted_out", object_id=str(work.pk)).count() == 1


def test_a_start_texted_from_the_home_number_does_not_resume_texts_stopped_elsewhere(river):
    spring, *_ = river
    _merge(spring, WORK, HOME)
    _stop_from(WORK_PHONE)

    webhooks.twilio_inbound(fake_twilio_mod.inbound_params(HOME_PHONE, "START"))

    assert Attendee.objects.get(email=WORK).sms_opt_out


def test_the_merge_row_names_the_number_that_now_leads_to_the_person_kept(river):
    spring, *_ = river

    keep = _merge(spring, WORK, HOME)

    row = AuditLog.objects.get(action="registration.merged", registration=keep)
    assert row.before["merged_email"] == HOME and row.before["merged_phone"] == HOME_PHONE


@pytest.fixture
def merged_twice(river):
    """Home into work at spring, then work into new at summer (work is deleted too)."""
    spring, summer, *_ = river
    apply_payment(paid(4, NEW, phone=NEW_PHONE, plink="plink_summer", name="Rivers Newman"))
    _merge(spring, WORK, HOME)
    _merge(summer, NEW, WORK)
    assert set(Attendee.objects.values_list("email", flat=True)) == {NEW}
    return Attendee.objects.get(email=NEW)


def test_after_two_merges_the_home_and_work_addresses_lead_to_the_last_attendee(merged_twice):
    new = merged_twice
    assert dict(AttendeeAlias.objects.values_list("email", "attendee_id")) == {HOME: new.pk, WORK: new.pk}


def test_after_two_merges_a_payment_from_the_home_address_lands_on_the_last_attendee(merged_twice):
    new = merged_twice
    autumn = _event("autumn", "plink_autumn", "333")

    apply_payment(paid(5, HOME, phone=HOME_PHONE, plink="plink_autumn"))

    reg = Registration.objects.get(event=autumn)
    assert reg.attendee_id == new.pk
    assert set(Attendee.objects.values_list("email", flat=True)) == {NEW}


def test_after_two_merges_a_stop_from_the_home_number_stops_the_last_attendees_texts(merged_twice):
    new = merged_twice

    _stop_from(HOME_PHONE)

    new.refresh_from_db()
    assert new.sms_opt_out


def test_after_two_merges_the_queued_text_belongs_to_the_last_attendee(merged_twice, river):
    new = merged_twice
    queued = river[3]
    queued.refresh_from_db()
    assert queued.attendee_id == new.pk


def test_a_reminder_queued_for_the_merged_away_registration_is_not_sent_and_shows_in_the_kept_ones_history(
    river, fake_twilio
):
    spring, *_ = river
    home_spring = Registration.objects.get(event=spring, attendee__email=HOME)
    queued, _ = create_message(channel="sms", kind="reminder_payment", recipient=HOME_PHONE, registration=home_spring)

    keep = _merge(spring, WORK, HOME)
    deliver(queued.pk)

    queued.refresh_from_db()
    assert queued.status == NotificationLog.Status.SUPPRESSED and not fake_twilio.messages
    assert queued.registration_id == keep.pk
    assert home_spring.reference in queued.error and keep.reference in queued.error
    entries = [e for e in registration_timeline(keep) if e.kind == "message"]
    assert any(HOME_PHONE in e.title and "Suppressed" in e.detail for e in entries), entries


def test_the_operator_sees_in_the_timeline_which_registration_and_address_were_merged_in(river):
    spring, *_ = river
    home_ref = Registration.objects.get(event=spring, attendee__email=HOME).reference

    keep = _merge(spring, WORK, HOME)

    merged = [e for e in registration_timeline(keep) if e.title == "Merged with another registration"]
    assert len(merged) == 1
    assert home_ref in merged[0].detail and HOME in merged[0].detail and keep.reference in merged[0].detail
    assert HOME_PHONE in merged[0].detail  # the old number that still names River


def test_a_registration_moved_by_the_merge_says_in_its_timeline_from_whom_to_whom(river):
    spring, _summer, summer_reg, _queued = river

    _merge(spring, WORK, HOME)

    moved = [e for e in registration_timeline(summer_reg) if e.title == "Attendee merged with another (same person)"]
    assert len(moved) == 1
    assert HOME in moved[0].detail and WORK in moved[0].detail, moved[0]


def test_after_two_merges_a_booking_from_the_home_address_lands_on_the_last_attendee(merged_twice):
    new = merged_twice
    autumn = _event("autumn", "plink_autumn", "333")

    apply_booking(booked(6, f"river@gym.example, {HOME}", phone=HOME_PHONE, atype="333"))

    assert Registration.objects.get(event=autumn).attendee_id == new.pk
    assert set(Attendee.objects.values_list("email", flat=True)) == {NEW}


def test_a_reminder_being_sent_at_the_moment_of_the_merge_is_left_to_its_worker(river):
    """A worker holds the lease and is talking to Twilio: the merge does not mark it suppressed
    under it (its "sent" would then be lost); it only loses its registration, as before."""
    spring, *_ = river
    home_spring = Registration.objects.get(event=spring, attendee__email=HOME)
    sending, _ = create_message(channel="sms", kind="reminder_payment", recipient=HOME_PHONE, registration=home_spring)
    NotificationLog.objects.filter(pk=sending.pk).update(attempts=1, locked_until=timezone.now() + timedelta(minutes=2))

    _merge(spring, WORK, HOME)

    sending.refresh_from_db()
    assert sending.status == NotificationLog.Status.QUEUED and sending.registration_id is None
    assert sending.attendee_id == Attendee.objects.get(email=WORK).pk


def test_a_stop_from_the_home_number_after_it_was_given_to_someone_else_stops_only_them(river):
    """Phone numbers are given to new people: River's old home number, merged away a year ago,
    now belongs to Sam, who booked with it. Sam's STOP is Sam's; River keeps getting texts at work."""
    spring, *_ = river
    keep = _merge(spring, WORK, HOME)
    AuditLog.objects.filter(action="registration.merged", registration=keep).update(
        created_at=timezone.now() - timedelta(days=365)
    )
    Attendee.objects.update(created_at=timezone.now() - timedelta(days=400))  # River's attendees are older
    apply_booking(booked(8, "sam@example.org", first="Sam", last="Other", phone=HOME_PHONE, atype="222"))

    _stop_from(HOME_PHONE)

    assert Attendee.objects.get(email="sam@example.org").sms_opt_out
    assert not Attendee.objects.get(email=WORK).sms_opt_out


def test_a_stop_from_the_home_number_leaves_alone_an_attendee_whose_personal_data_was_purged(river):
    """After River's data is purged (anonymised: no name, address or phone), the number recorded
    in the old merge row names nobody: a STOP from it changes nothing of theirs."""
    spring, *_ = river
    _merge(spring, WORK, HOME)
    work = Attendee.objects.get(email=WORK)
    Attendee.objects.filter(pk=work.pk).update(
        email=f"anon-{work.pk}@invalid", name="", phone="", anonymised_at=timezone.now()
    )

    _stop_from(HOME_PHONE)

    work.refresh_from_db()
    assert not work.sms_opt_out
    assert not AuditLog.objects.filter(action="attendee.opted_out", object_id=str(work.pk)).exists()
