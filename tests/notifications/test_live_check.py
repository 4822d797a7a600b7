"""Just before sending, the provider is asked whether the missing half already exists."""

import dataclasses
from datetime import timedelta

from django.core import mail
from django.utils import timezone

from notifications.models import NotificationLog, Reminder
from notifications.reminders import process_reminder
from notifications.scan import run_scan
from notifications.tokens import status_token
from registrations.models import AttendeeAlias, AuditLog, Booking, Payment, Registration, Status
from registrations.services import apply_booking, apply_payment
from registrations.signals import BookingSignal, PaymentSignal

from .conftest import ATYPE, PLINK, REF_FIELD

EMAIL = "river.stone@example.org"


def _age(reg, hours=48):
    Registration.objects.filter(pk=reg.pk).update(status_changed_at=timezone.now() - timedelta(hours=hours))


def paid_only(email=EMAIL) -> Registration:
    result = apply_payment(
        PaymentSignal(
            status="paid",
            source_id="cs_known",
            checkout_session_id="cs_known",
            event_keys=(("stripe_payment_link", PLINK),),
            email=email,
            name="River Stone",
            amount=12000,
            currency="usd",
            quantity=1,
            raw_ref="evt_1",
        )
    )
    reg = result.registration
    assert reg.status == Status.PAID_ONLY
    _age(reg)
    return reg


def booked_only(email=EMAIL) -> Registration:
    result = apply_booking(
        BookingSignal(
            status="booked",
            source_id="900000001",
            event_keys=(("acuity_appointment_type", ATYPE),),
            email=email,
            first_name="River",
            last_name="Stone",
            starts_at=timezone.now() + timedelta(days=20),
            raw_ref="acuity-1",
        )
    )
    reg = result.registration
    assert reg.status == Status.BOOKED_ONLY
    _age(reg)
    return reg


def test_a_booking_the_webhook_missed_is_applied_and_no_reminder_is_sent(event, fake_acuity):
    reg = paid_only()
    appt = fake_acuity.add_appointment(email=EMAIL, appointment_type_id=int(ATYPE))

    result = run_scan(process="inline")

    assert result.outcomes == {"suppressed": 1}
    reg.refresh_from_db()
    assert reg.status == Status.COMPLETE
    assert Booking.objects.get(acuity_appointment_id=str(appt["id"])).registration == reg
    assert AuditLog.objects.filter(action="booking.recorded", actor_source="reminder-live-check").exists()
    reminder = Reminder.objects.get()
    assert reminder.status == Reminder.Status.SUPPRESSED and str(appt["id"]) in reminder.note
    assert list(NotificationLog.objects.values_list("status", flat=True)) == ["suppressed"]
    assert mail.outbox == []
    asked = fake_acuity.requests[0].query
    assert asked["email"] == EMAIL and asked["appointmentTypeID"] == ATYPE and asked["showall"] == "true"


def test_a_booking_under_another_email_is_found_by_our_reference_field(event, fake_acuity):
    reg = paid_only()
    fake_acuity.add_appointment(
        email="river.other@example.net", appointment_type_id=int(ATYPE), intake={int(REF_FIELD): ("Ref", reg.reference)}
    )

    assert run_scan(process="inline").outcomes == {"suppressed": 1}
    reg.refresh_from_db()
    assert reg.status == Status.COMPLETE


def test_someone_elses_appointment_is_not_taken_for_theirs(event, fake_acuity):
    reg = paid_only()
    fake_acuity.add_appointment(email="someone.else@example.org", appointment_type_id=int(ATYPE))

    assert run_scan(process="inline").outcomes == {"sent": 1}
    assert Booking.objects.count() == 0 and len(mail.outbox) == 1
    reg.refresh_from_db()
    assert reg.status == Status.PAID_ONLY


def test_a_paid_checkout_the_webhook_missed_is_applied_and_no_reminder_is_sent(event, fake_stripe):
    reg = booked_only()
    session = fake_stripe.add_session(email=EMAIL, payment_link=PLINK, payment_status="paid")

    assert run_scan(process="inline").outcomes == {"suppressed": 1}

    reg.refresh_from_db()
    assert reg.status == Status.COMPLETE
    assert Payment.objects.get(checkout_session_id=session["id"]).registration == reg
    assert mail.outbox == []
    listed = [r for r in fake_stripe.requests if r.path == "/v1/checkout/sessions"][0].query
    assert listed["payment_link"] == PLINK and listed["customer_details[email]"] == EMAIL


def test_a_bank_debit_found_just_before_the_reminder_is_recorded_as_clearing_and_nobody_is_asked_to_pay_twice(
    event, fake_stripe
):
    """Its webhook was lost: the completed but unpaid session is not money yet (the registration
    stays booked-only), but it is recorded as awaiting funds, so no 'please pay' goes out."""
    reg = booked_only()
    fake_stripe.add_session(email=EMAIL, payment_link=PLINK, payment_status="unpaid", status="complete")

    assert run_scan(process="inline").outcomes == {"suppressed": 1}
    reg.refresh_from_db()
    assert reg.status == Status.BOOKED_ONLY
    assert list(Payment.objects.values_list("state", flat=True)) == ["unpaid"]
    assert mail.outbox == []
    assert "the live check found Stripe payment" in Reminder.objects.get().note


def test_an_abandoned_checkout_does_not_count_and_the_reminder_goes_out(event, fake_stripe):
    reg = booked_only()
    fake_stripe.add_session(email=EMAIL, payment_link=PLINK, payment_status="unpaid", status="expired")

    assert run_scan(process="inline").outcomes == {"sent": 1}
    reg.refresh_from_db()
    assert reg.status == Status.BOOKED_ONLY and Payment.objects.count() == 0
    assert len(mail.outbox) == 1


def test_when_the_provider_fails_nothing_is_sent_and_the_next_scan_tries_again(event, fake_acuity):
    reg = paid_only()
    fake_acuity.fail_next(1, status=401)

    assert run_scan(process="inline").outcomes == {"deferred": 1}
    reminder = Reminder.objects.get()
    assert reminder.status == Reminder.Status.DEFERRED and reminder.attempts == 1
    assert "Live check failed" in reminder.note and mail.outbox == []

    assert run_scan(process="inline").outcomes == {}  # too early: waits for its retry time
    result = run_scan(process="inline", now=timezone.now() + timedelta(minutes=6))
    assert result.swept == 1 and result.outcomes == {"sent": 1}
    assert len(mail.outbox) == 1 and reg.reminders.count() == 1


def test_an_acuity_that_hangs_defers_the_reminder_after_the_worker_http_timeout(event, fake_acuity, settings):
    """A hanging API must not hold the reminder task until the worker kills it: each call gives
    up after WEBHOOK_HTTP_TIMEOUT, tried twice, and the reminder waits for the next scan."""
    settings.WEBHOOK_HTTP_TIMEOUT = 0.3
    paid_only()
    fake_acuity.fail_next(5, status=200, body=[], delay=1.5)  # would answer, far too late

    assert run_scan(process="inline").outcomes == {"deferred": 1}
    assert "Live check failed" in Reminder.objects.get().note and mail.outbox == []
    assert fake_acuity.count("GET", r"^/api/v1/appointments$") == 2


def test_a_slow_live_check_stops_asking_before_the_task_would_be_killed(event, fake_acuity, settings):
    """Each answer comes in time, but together they would outlive the task: no new call starts
    after half the worker's task timeout, and the reminder waits for the next scan."""
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 1}
    reg = paid_only()
    for alias in ("river@example.net", "r.stone@example.com"):
        AttendeeAlias.objects.create(attendee=reg.attendee, email=alias, reason="test")
    fake_acuity.fail_next(4, status=200, body=[], delay=0.4)  # 3 addresses + the reference field

    assert run_scan(process="inline").outcomes == {"deferred": 1}
    note = Reminder.objects.get().note
    assert "no answer within" in note and mail.outbox == []
    assert fake_acuity.count("GET", r"^/api/v1/appointments$") == 2


def _clearing_bank_debit(email=EMAIL):
    """Booked, then paid by bank debit: Stripe completes the checkout 'unpaid' while funds clear."""
    return PaymentSignal(
        status="unpaid",
        source_id="cs_debit",
        checkout_session_id="cs_debit",
        event_keys=(("stripe_payment_link", PLINK),),
        email=email,
        name="River Stone",
        amount=12000,
        currency="usd",
        quantity=1,
        raw_ref="evt_debit",
    )


def test_someone_whose_bank_debit_is_clearing_is_not_asked_to_pay_again(client, event, fake_stripe):
    reg = booked_only()
    apply_payment(_clearing_bank_debit())
    reg.refresh_from_db()
    assert reg.status == Status.BOOKED_ONLY and reg.payments.get().state == Payment.State.UNPAID

    run_scan(process="inline")

    assert mail.outbox == []  # no "we haven't received your payment" with a second payment link
    assert Reminder.objects.filter(registration=reg).count() == 0  # not even a reminder used up
    page = client.get(f"/n/status/{status_token(reg.pk)}/").content.decode()
    assert "Complete my payment" not in page and "buy.stripe.com" not in page
    assert "Payment on its way" in page


def test_a_debit_that_starts_clearing_after_the_reminder_was_claimed_stops_it(event, fake_stripe):
    reg = booked_only()
    Reminder.objects.create(registration=reg, number=1, missing="payment")
    apply_payment(_clearing_bank_debit())

    assert process_reminder(Reminder.objects.get().pk) == "skipped"
    assert mail.outbox == []


def test_a_failed_bank_debit_brings_the_payment_reminder_back(event, fake_stripe):
    reg = booked_only()
    apply_payment(_clearing_bank_debit())
    apply_payment(dataclasses.replace(_clearing_bank_debit(), status="failed", raw_ref="evt_failed"))
    reg.refresh_from_db()
    assert reg.status == Status.BOOKED_ONLY and reg.payments.get().state == Payment.State.FAILED
    _age(reg)

    assert run_scan(process="inline").outcomes == {"sent": 1}
