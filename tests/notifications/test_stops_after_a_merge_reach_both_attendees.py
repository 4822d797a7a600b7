"""River is one person with two attendees: an operator merged them at the spring retreat, but
both were registered at the summer retreat, so the merged-away attendee (home address, home
phone) stays for that registration until the operator merges it too. A stop River says through
any route — a spam complaint, STOP texted from either phone, Twilio refusing a text with 21610 —
holds for both attendees, as the unsubscribe link does (0313bb7): otherwise the summer
reminders go on reaching River at the other address or number."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications import webhooks
from notifications.delivery import create_message
from notifications.models import NotificationLog
from notifications.scan import run_scan
from registrations.audit import Actor
from registrations.models import Attendee, EventMapping, Registration, ReviewItem, Status
from registrations.resolutions import accept_suggested_match, keep_both_registrations
from registrations.services import apply_booking, apply_payment
from tests.domain.builders import booked, paid
from tests.factories import EventFactory
from tests.fakes import resend as fake_resend_mod
from tests.fakes import twilio as fake_twilio_mod

pytestmark = pytest.mark.django_db

HOME, WORK = "river@home.example", "river@work.example"
HOME_PHONE, WORK_PHONE = "+14155550123", "+14155550999"


@pytest.fixture
def river(db):
    """(work attendee: the survivor, home attendee: merged away but kept for the summer)."""
    quiet = dict(quiet_hours_start=0, quiet_hours_end=0, sms_enabled=True)  # reminders at any hour
    spring = EventFactory(slug="spring", name="Spring Retreat", price=12000, **quiet)
    summer = EventFactory(slug="summer", name="Summer Retreat", price=12000, **quiet)
    for event, plink, atype in ((spring, "plink_spring", "111"), (summer, "plink_summer", "222")):
        EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PAYMENT_LINK, value=plink, event=event)
        EventMapping.objects.create(kind=EventMapping.Kind.ACUITY_APPOINTMENT_TYPE, value=atype, event=event)
    # Summer: booked from home (not paid yet: payment reminders go to the home address and
    # phone), and paid and booked from work weeks earlier.
    apply_booking(booked(1, HOME, phone=HOME_PHONE, atype="222", hours=24 * 20))
    apply_payment(paid(2, WORK, phone=WORK_PHONE, plink="plink_summer"))
    apply_booking(booked(2, WORK, phone=WORK_PHONE, atype="222"))
    # Spring: booked from home, paid from work; the operator accepts the suggested match.
    apply_booking(booked(3, HOME, phone=HOME_PHONE, atype="111", hours=24 * 30))
    apply_payment(paid(3, WORK, phone=WORK_PHONE, plink="plink_spring", hours=24 * 30 + 1))
    suggestion = ReviewItem.objects.get(kind=ReviewItem.Kind.SUGGESTED_MATCH, event=spring)
    accept_suggested_match(suggestion.pk, Actor.system("test"))
    work, home = Attendee.objects.get(email=WORK), Attendee.objects.get(email=HOME)
    assert Registration.objects.filter(event=summer, attendee=home).exists()  # kept for the summer
    assert (work.phone, home.phone) == (WORK_PHONE, HOME_PHONE)
    assert not (work.email_opt_out or home.email_opt_out or work.sms_opt_out or home.sms_opt_out)
    return work, home


def _sent(channel, attendee, recipient, provider, provider_id):
    reg = attendee.registrations.order_by("pk").first()
    message, _ = create_message(channel=channel, kind="reminder_payment", recipient=recipient, registration=reg)
    NotificationLog.objects.filter(pk=message.pk).update(
        status=NotificationLog.Status.SENT, provider=provider, provider_id=provider_id
    )
    return message


def _fresh(*attendees):
    for a in attendees:
        a.refresh_from_db()
    return attendees


def test_a_spam_complaint_about_a_reminder_to_the_work_address_stops_reminder_emails_to_both(river):
    work, home = river
    _sent("email", work, WORK, "resend", "em_work_1")

    webhooks.resend_event(fake_resend_mod.event("email.complained", "em_work_1", to=WORK))

    work, home = _fresh(work, home)
    assert work.email_opt_out and home.email_opt_out


def test_stop_texted_from_the_work_phone_stops_texts_to_the_home_phone_too(river):
    work, home = river

    webhooks.twilio_inbound(fake_twilio_mod.inbound_params(WORK_PHONE, "STOP"))

    work, home = _fresh(work, home)
    assert work.sms_opt_out and home.sms_opt_out


def test_stop_texted_from_the_home_phone_stops_texts_to_the_work_phone_too(river):
    work, home = river

    webhooks.twilio_inbound(fake_twilio_mod.inbound_params(HOME_PHONE, "STOP"))

    work, home = _fresh(work, home)
    assert work.sms_opt_out and home.sms_opt_out


def test_a_text_to_the_home_phone_refused_with_21610_in_a_status_callback_stops_texts_to_both(river):
    work, home = river
    message = _sent("sms", home, HOME_PHONE, "twilio", "SMhome1")
    params = fake_twilio_mod.status_params(
        {"account_sid": fake_twilio_mod.ACCOUNT_SID, "from": "", "sid": "SMhome1", "to": HOME_PHONE}, "failed", 21610
    )

    webhooks.twilio_status(params, str(message.uuid))

    work, home = _fresh(work, home)
    assert home.sms_opt_out and work.sms_opt_out


def test_a_summer_reminder_text_to_the_home_phone_refused_with_21610_stops_texts_to_both(
    river, fake_resend, fake_twilio
):
    work, home = river
    # The operator keeps both summer registrations: the home one's payment reminders resume.
    keep_both_registrations(ReviewItem.objects.get(kind=ReviewItem.Kind.SAME_PERSON_TWICE).pk, Actor.system("test"))
    fake_twilio.opted_out.add(HOME_PHONE)  # River once texted STOP to our number from home

    run_scan(process="inline", now=timezone.now() + timedelta(days=2))  # past the reminder delay

    sms = NotificationLog.objects.get(channel="sms", recipient=HOME_PHONE)
    assert sms.status == NotificationLog.Status.FAILED and "STOP" in sms.error
    work, home = _fresh(work, home)
    assert home.sms_opt_out and work.sms_opt_out
    assert Registration.objects.get(attendee=home).status == Status.BOOKED_ONLY
