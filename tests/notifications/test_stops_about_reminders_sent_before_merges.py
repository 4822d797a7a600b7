"""River paid from work and booked from home; an operator merged the two (the home attendee is
gone: it had nothing else). A reminder that went to the home address or phone before the merge
no longer names an attendee. A spam complaint or Twilio's 21610 about it still comes from River:
it must stop River's reminders (the survivor's), not be dropped. And an unsubscribe link from
before two merges in a row (home into work, work into a third address) reaches the last one."""

from __future__ import annotations

import pytest

from notifications import webhooks
from notifications.delivery import create_message
from notifications.models import NotificationLog
from notifications.tokens import unsubscribe_url
from registrations.audit import Actor
from registrations.models import Attendee, AuditLog, EventMapping, Registration
from registrations.resolutions import merge_registrations
from registrations.services import apply_booking, apply_payment
from tests.domain.builders import booked, paid
from tests.factories import EventFactory
from tests.fakes import resend as fake_resend_mod
from tests.fakes import twilio as fake_twilio_mod

pytestmark = pytest.mark.django_db

HOME, WORK, NEW = "river@home.example", "river@work.example", "river@new.example"
HOME_PHONE = "+14155550123"


def _event(slug, plink, atype):
    event = EventFactory(slug=slug, name=slug.title(), price=12000)
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PAYMENT_LINK, value=plink, event=event)
    EventMapping.objects.create(kind=EventMapping.Kind.ACUITY_APPOINTMENT_TYPE, value=atype, event=event)
    return event


def _merge(event, keep_email, other_email):
    keep = Registration.objects.get(event=event, attendee__email=keep_email)
    other = Registration.objects.get(event=event, attendee__email=other_email)
    merge_registrations(keep, other, Actor.system("test"), "same person")


def _sent(channel, registration, recipient, provider, provider_id):
    message, _ = create_message(
        channel=channel, kind="reminder_payment", recipient=recipient, registration=registration
    )
    NotificationLog.objects.filter(pk=message.pk).update(
        status=NotificationLog.Status.SENT, provider=provider, provider_id=provider_id
    )
    return message


@pytest.fixture
def merged_river(db):
    """Reminders sent to the home attendee, then home merged into work (home deleted)."""
    spring = _event("spring", "plink_spring", "111")
    apply_booking(booked(1, HOME, phone=HOME_PHONE, atype="111"))
    apply_payment(paid(2, WORK, plink="plink_spring"))
    home_reg = Registration.objects.get(attendee__email=HOME)
    email = _sent("email", home_reg, HOME, "resend", "em_home_1")
    sms = _sent("sms", home_reg, HOME_PHONE, "twilio", "SMhome1")
    _merge(spring, WORK, HOME)
    assert not Attendee.objects.filter(email=HOME).exists()
    work = Attendee.objects.get(email=WORK)
    email.refresh_from_db()
    assert email.attendee_id == work.pk  # a merge now moves the messages to the person it keeps
    # Merges made before that left such messages with no attendee: the stops must still land.
    NotificationLog.objects.filter(pk__in=[email.pk, sms.pk]).update(attendee=None, registration=None)
    email.refresh_from_db()
    sms.refresh_from_db()
    assert work.phone == HOME_PHONE and not (work.email_opt_out or work.sms_opt_out)
    return work, email, sms


def test_a_spam_complaint_about_a_reminder_sent_to_the_home_address_before_the_merge_stops_rivers_emails(
    merged_river,
):
    work, _email, _sms = merged_river

    webhooks.resend_event(fake_resend_mod.event("email.complained", "em_home_1", to=HOME))

    work.refresh_from_db()
    assert work.email_opt_out
    row = AuditLog.objects.get(action="attendee.opted_out", object_id=str(work.pk))
    assert row.after["via"] == "resend-complaint"


def test_a_text_to_the_home_phone_before_the_merge_refused_with_21610_stops_rivers_texts(merged_river):
    work, _email, sms = merged_river
    params = fake_twilio_mod.status_params(
        {"account_sid": fake_twilio_mod.ACCOUNT_SID, "from": "", "sid": "SMhome1", "to": HOME_PHONE}, "failed", 21610
    )

    webhooks.twilio_status(params, str(sms.uuid))

    work.refresh_from_db()
    assert work.sms_opt_out
    assert AuditLog.objects.filter(action="attendee.opted_out", object_id=str(work.pk)).count() == 1


def test_an_unsubscribe_link_from_before_two_merges_in_a_row_stops_emails_to_the_last_address(client):
    """Home merged into work at spring; later work merged into a new address at summer. The new
    attendee was also at spring, so the work attendee stays for its spring registration."""
    spring = _event("spring", "plink_spring", "111")
    summer = _event("summer", "plink_summer", "222")
    apply_booking(booked(1, HOME, atype="111"))
    home_id = Attendee.objects.get(email=HOME).pk
    apply_payment(paid(2, WORK, plink="plink_spring"))
    apply_booking(booked(3, NEW, atype="111", first="Rivers", last="Newman"))
    apply_payment(paid(4, WORK, plink="plink_summer"))
    apply_booking(booked(5, NEW, atype="222", first="Rivers", last="Newman"))
    _merge(spring, WORK, HOME)  # home is gone
    _merge(summer, NEW, WORK)  # work stays: both work and new are registered at spring
    work, new = Attendee.objects.get(email=WORK), Attendee.objects.get(email=NEW)
    assert not Attendee.objects.filter(pk=home_id).exists()

    response = client.post(unsubscribe_url(home_id))

    assert response.status_code == 200
    work.refresh_from_db()
    new.refresh_from_db()
    assert work.email_opt_out and new.email_opt_out
