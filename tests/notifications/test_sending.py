"""Reminders go out once, on the right channels, through the real SDKs (against local fakes)."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from django.core import mail
from django.utils import timezone

from notifications.delivery import MAX_ATTEMPTS, _claim, create_message, deliver
from notifications.email import send_email
from notifications.models import NotificationLog, Reminder
from notifications.reminders import process_reminder
from notifications.scan import run_scan
from notifications.transports import transport_for
from registrations.models import AuditLog, Registration, Status

Msg = NotificationLog.Status


def test_paid_only_gets_one_email_with_the_prefilled_booking_link(fake_resend, one_sided):
    reg = one_sided(Status.PAID_ONLY, name="River Stone")

    result = run_scan(process="inline")

    assert result.claimed == 1 and result.outcomes == {"sent": 1}
    [email] = fake_resend.emails
    assert email["to"] == [reg.attendee.email]
    assert "book your place" in email["subject"].lower()
    assert "Hi River," in email["text"]
    link = next(w for w in email["text"].split() if w.startswith("https://app.acuityscheduling.com"))
    query = parse_qs(urlsplit(link).query)
    assert query["field:7001"] == [reg.reference] and query["email"] == [reg.attendee.email]
    assert email["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert (
        email["headers"]["List-Unsubscribe"].startswith("<http")
        and "/n/unsubscribe/" in email["headers"]["List-Unsubscribe"]
    )
    row = NotificationLog.objects.get()
    assert (row.status, row.provider, row.provider_id, row.kind) == (
        Msg.SENT,
        "resend",
        email["id"],
        "reminder_booking",
    )
    assert email["idempotency_key"] == f"msg/{row.uuid}"
    assert row.registration == reg and row.reminder.number == 1


def test_booked_only_with_a_phone_gets_an_email_and_a_text_with_the_payment_step(fake_resend, fake_twilio, one_sided):
    reg = one_sided(Status.BOOKED_ONLY, phone="+14155550123")

    run_scan(process="inline")

    [email] = fake_resend.emails
    assert "prefilled_email=" in email["text"] and f"client_reference_id={reg.reference}" in email["text"]
    [sms] = fake_twilio.messages
    assert sms["to"] == "+14155550123" and "/n/status/" in sms["body"] and "Reply STOP" in sms["body"]
    sms_row = NotificationLog.objects.get(channel="sms")
    assert sms_row.provider_id == sms["sid"] and sms_row.status == Msg.SENT
    assert sms["status_callback"] == f"https://jlf.example.org/webhooks/twilio/status/?m={sms_row.uuid}"


def test_a_second_scan_sends_nothing_more_until_the_spacing_has_passed(fake_resend, one_sided, event):
    reg = one_sided(Status.PAID_ONLY)
    run_scan(process="inline")
    run_scan(process="inline")
    assert len(fake_resend.emails) == 1

    later = timezone.now() + timedelta(hours=event.reminder_spacing_hours + 1)
    run_scan(process="inline", now=later)
    assert len(fake_resend.emails) == 2
    assert list(reg.reminders.order_by("number").values_list("number", "status")) == [(1, "sent"), (2, "sent")]

    much_later = later + timedelta(hours=event.reminder_spacing_hours + 1)
    run_scan(process="inline", now=much_later)
    assert len(fake_resend.emails) == 2  # reminder_max_count = 2


def test_without_provider_keys_email_goes_to_the_django_backend_and_sms_is_only_logged(one_sided, caplog):
    one_sided(Status.BOOKED_ONLY, phone="+14155550123")
    caplog.set_level("INFO", logger="notifications.transports")

    run_scan(process="inline")

    assert len(mail.outbox) == 1 and mail.outbox[0].extra_headers["List-Unsubscribe-Post"]
    providers = dict(NotificationLog.objects.values_list("channel", "provider"))
    assert providers == {"email": "console", "sms": "log"}
    assert "SMS not sent (Twilio not configured)" in caplog.text


# --- Never twice ---------------------------------------------------------------------------------
def _worker_dies_after_the_provider_accepted(message: NotificationLog):
    """Our real claim and transport; then the process 'dies' before recording anything."""
    now = timezone.now()
    assert _claim(message.pk, now)
    message.refresh_from_db()
    transport_for(message.channel).send(message)  # the provider accepts the message...
    # ...and nothing is recorded; the lease of the dead worker runs out.
    NotificationLog.objects.filter(pk=message.pk).update(locked_until=now - timedelta(seconds=1))


def test_email_crash_after_resend_accepted_does_not_send_a_second_copy(fake_resend, one_sided):
    reg = one_sided(Status.PAID_ONLY)
    message, _ = create_message(channel="email", kind="test", recipient=reg.attendee.email, subject="s", body="b")
    _worker_dies_after_the_provider_accepted(message)
    assert len(fake_resend.emails) == 1

    row = deliver(message.pk)

    assert len(fake_resend.emails) == 1  # Resend answered the repeat key with the first email
    assert row.status == Msg.SENT and row.provider_id == fake_resend.emails[0]["id"] and row.attempts == 2


def test_an_email_resend_already_sent_is_shown_as_sent_when_the_retry_differs(fake_resend, one_sided, settings):
    """Resend answers 409 invalid_idempotent_request when our key comes back with another payload
    (here the sender address changed between the crashed attempt and its retry). The key is this
    message's own, so Resend did send it: the operator must not see "failed"."""
    reg = one_sided(Status.PAID_ONLY)
    message, _ = create_message(
        channel="email", kind="test", recipient=reg.attendee.email, subject="s", body="b", registration=reg
    )
    _worker_dies_after_the_provider_accepted(message)
    settings.NOTIFICATIONS_FROM_EMAIL = "JLF <hello@example.org>"  # a deploy changed the sender

    row = deliver(message.pk)

    assert len(fake_resend.emails) == 1  # nothing sent twice
    assert row.status == Msg.SENT and not row.is_problem and row.next_attempt_at is None
    assert "already sent" in row.error and row.provider == "resend" and row.provider_id == ""
    assert deliver(message.pk).status == Msg.SENT and len(fake_resend.emails) == 1  # and never retried


def test_a_retry_while_resend_still_processes_the_first_attempt_waits_and_sends_once(fake_resend, one_sided):
    """409 concurrent_idempotent_requests: the first request under our key is still in flight at
    Resend. That is temporary: retry later, then Resend answers with that first email."""
    reg = one_sided(Status.PAID_ONLY)
    message, _ = create_message(channel="email", kind="test", recipient=reg.attendee.email, subject="s", body="b")
    _worker_dies_after_the_provider_accepted(message)
    fake_resend.in_progress(message.idempotency_key)

    row = deliver(message.pk)
    assert row.status == Msg.QUEUED and row.next_attempt_at > timezone.now()

    fake_resend.in_progress(message.idempotency_key, done=True)
    row = deliver(message.pk, now=row.next_attempt_at)

    assert row.status == Msg.SENT and row.provider_id == fake_resend.emails[0]["id"] and row.error == ""
    assert len(fake_resend.emails) == 1


def test_sms_crash_after_twilio_accepted_is_found_at_twilio_and_not_sent_again(fake_twilio, one_sided):
    reg = one_sided(Status.PAID_ONLY, phone="+14155550123")
    message, _ = create_message(channel="sms", kind="test", recipient="+14155550123", body="Hello", registration=reg)
    _worker_dies_after_the_provider_accepted(message)

    row = deliver(message.pk)

    assert len(fake_twilio.messages) == 1
    assert fake_twilio.count("POST", r"/Messages\.json$") == 1
    assert row.status == Msg.SENT and row.provider_id == fake_twilio.messages[0]["sid"]


def test_a_timeout_after_acceptance_is_retried_without_duplicates_on_both_channels(fake_resend, fake_twilio, one_sided):
    reg = one_sided(Status.BOOKED_ONLY, phone="+14155550123")
    fake_resend.accept_then_fail_next()
    fake_twilio.accept_then_fail_next()

    run_scan(process="inline")
    rows = NotificationLog.objects.order_by("channel")
    assert [(r.status, r.attempts) for r in rows] == [(Msg.QUEUED, 1), (Msg.QUEUED, 1)]
    assert all(r.next_attempt_at > timezone.now() for r in rows)

    run_scan(process="inline", now=timezone.now() + timedelta(minutes=6))  # the sweep retries

    assert len(fake_resend.emails) == 1 and len(fake_twilio.messages) == 1
    assert {r.status for r in NotificationLog.objects.all()} == {Msg.SENT}
    assert reg.reminders.count() == 1


def test_twilio_21610_marks_the_attendee_opted_out_of_sms_and_is_never_retried(fake_resend, fake_twilio, one_sided):
    reg = one_sided(Status.BOOKED_ONLY, phone="+14155550123")
    fake_twilio.opted_out.add("+14155550123")

    run_scan(process="inline")

    sms = NotificationLog.objects.get(channel="sms")
    assert sms.status == Msg.FAILED and "STOP" in sms.error and sms.next_attempt_at is None
    reg.attendee.refresh_from_db()
    assert reg.attendee.sms_opt_out and reg.attendee.opted_out_at
    audit = AuditLog.objects.get(action="attendee.opted_out")
    assert audit.after["via"] == "twilio-21610"
    assert NotificationLog.objects.get(channel="email").status == Msg.SENT

    run_scan(process="inline", now=timezone.now() + timedelta(hours=1))
    assert fake_twilio.count("POST", r"/Messages\.json$") == 1


def test_a_rejected_address_fails_at_once_and_transient_errors_give_up_after_the_last_attempt(fake_resend, one_sided):
    reg = one_sided(Status.PAID_ONLY)
    fake_resend.reject_next(422, "validation_error", "Invalid `to` field.")
    bad = send_email(reg.attendee.email, "s", "b", kind="test")
    assert bad.status == Msg.FAILED and "Invalid `to` field" in bad.error and bad.attempts == 1

    fake_resend.fail_next(MAX_ATTEMPTS, status=503)
    flaky = send_email(reg.attendee.email, "s2", "b", kind="test")
    for _ in range(MAX_ATTEMPTS - 1):
        NotificationLog.objects.filter(pk=flaky.pk).update(next_attempt_at=timezone.now())
        flaky = deliver(flaky.pk)
    assert flaky.status == Msg.FAILED and flaky.attempts == MAX_ATTEMPTS
    assert fake_resend.emails == []


def test_a_retry_is_dropped_when_the_attendee_completed_the_step_meanwhile(fake_resend, one_sided):
    reg = one_sided(Status.BOOKED_ONLY)
    fake_resend.fail_next(1, status=503)
    run_scan(process="inline")
    assert NotificationLog.objects.get().status == Msg.QUEUED

    Registration.objects.filter(pk=reg.pk).update(status=Status.COMPLETE)
    run_scan(process="inline", now=timezone.now() + timedelta(minutes=6))

    row = NotificationLog.objects.get()
    assert row.status == Msg.SUPPRESSED and "complete" in row.error
    assert fake_resend.emails == []


def test_a_reminder_claimed_during_quiet_hours_waits_for_the_morning(fake_resend, one_sided, event):
    reg = one_sided(Status.PAID_ONLY)
    event.quiet_hours_start, event.quiet_hours_end, event.timezone = 21, 8, "Europe/London"
    event.save()
    reminder = Reminder.objects.create(registration=reg, number=1, missing="booking")
    night = datetime(2026, 1, 10, 23, 0, tzinfo=UTC)  # 23:00 in London (GMT)
    event.starts_at = night + timedelta(days=5)
    event.save()

    assert process_reminder(reminder.pk, now=night) == "deferred"
    reminder.refresh_from_db()
    assert reminder.retry_at == datetime(2026, 1, 11, 8, 0, tzinfo=UTC) and fake_resend.emails == []
    assert process_reminder(reminder.pk, now=night + timedelta(hours=1)) == "busy"  # not yet
    assert process_reminder(reminder.pk, now=datetime(2026, 1, 11, 8, 5, tzinfo=UTC)) == "sent"


def test_send_email_is_logged_and_a_dedupe_key_sends_once(fake_resend, one_sided):
    reg = one_sided(Status.COMPLETE)
    first = send_email("ana@example.org", "Your link", "text", "<p>html</p>", kind="cohost_link", dedupe_key="k1")
    again = send_email("ana@example.org", "Your link", "text", kind="cohost_link", dedupe_key="k1")
    other = send_email(reg.attendee.email, "Hi", "t", kind="digest", registration=reg)
    assert first.pk == again.pk and first.status == Msg.SENT and first.kind == "cohost_link"
    assert fake_resend.emails[0]["html"] == "<p>html</p>"
    assert len(fake_resend.emails) == 2 and other.attendee == reg.attendee


def test_a_retry_that_falls_into_quiet_hours_waits_for_the_morning(fake_resend, one_sided, event):
    reg = one_sided(Status.PAID_ONLY)
    fake_resend.fail_next(1, status=503)
    run_scan(process="inline")
    row = NotificationLog.objects.get()
    assert row.status == Msg.QUEUED and row.attempts == 1

    event.quiet_hours_start, event.quiet_hours_end, event.timezone = 21, 8, "Europe/London"
    event.starts_at = datetime(2026, 1, 20, 10, 0, tzinfo=UTC)
    event.save()
    Registration.objects.filter(pk=reg.pk).update(status_changed_at=datetime(2026, 1, 1, tzinfo=UTC))
    night = datetime(2026, 1, 10, 23, 0, tzinfo=UTC)
    NotificationLog.objects.filter(pk=row.pk).update(next_attempt_at=night)

    row = deliver(row.pk, now=night)
    assert (row.status, row.attempts, row.next_attempt_at) == (Msg.QUEUED, 1, datetime(2026, 1, 11, 8, 0, tzinfo=UTC))
    assert fake_resend.emails == []
    row = deliver(row.pk, now=datetime(2026, 1, 11, 8, 1, tzinfo=UTC))
    assert row.status == Msg.SENT and row.attempts == 2 and len(fake_resend.emails) == 1


def test_a_retry_of_please_pay_is_dropped_when_that_registration_was_merged_away(fake_resend, one_sided):
    from registrations.audit import Actor
    from registrations.resolutions import merge_registrations

    booked = one_sided(Status.BOOKED_ONLY, email="river.work@example.org")
    fake_resend.fail_next(1, status=503)
    run_scan(process="inline")
    row = NotificationLog.objects.get()
    assert row.status == Msg.QUEUED and row.kind == "reminder_payment"

    # An operator confirms it is the same person as a paid registration under another address.
    paid = one_sided(Status.PAID_ONLY, email="river@example.org")
    merge_registrations(paid, booked, Actor.system("test"), reason="same person")
    assert not Registration.objects.filter(pk=booked.pk).exists()

    run_scan(process="inline", now=timezone.now() + timedelta(minutes=6))  # the retry sweep

    row.refresh_from_db()
    assert fake_resend.emails == []  # no "please pay" to someone whose registration is gone
    # Suppressed by the merge itself, and kept in the kept registration's history.
    assert row.status == Msg.SUPPRESSED and f"{booked.reference} was merged into {paid.reference}" in row.error
    assert row.registration_id == paid.pk


def test_a_batch_of_retries_stops_starting_sends_before_the_worker_would_kill_it(fake_resend, one_sided, settings):
    """Resend answers, but slowly: a task of retries sends what fits in half the task timeout
    and leaves the rest queued for the next sweep, instead of being killed half-way."""
    from notifications.tasks import deliver_messages

    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 1}
    reg = one_sided(Status.PAID_ONLY)
    rows = [
        create_message(
            channel=NotificationLog.Channel.EMAIL,
            kind="digest",
            recipient=reg.attendee.email,
            subject=f"m{i}",
            body="b",
        )[0]
        for i in range(3)
    ]
    fake_resend.fail_next(3, status=200, body={"id": "re_slow"}, delay=0.4)

    statuses = deliver_messages([r.pk for r in rows])

    assert statuses == {"sent": 2, "left for the next sweep": 1}
    left = NotificationLog.objects.get(pk=rows[2].pk)
    assert left.status == Msg.QUEUED and left.attempts == 0
