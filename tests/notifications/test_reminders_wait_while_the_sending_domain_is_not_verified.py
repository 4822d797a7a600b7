"""Resend refuses every email with a 403 while the sender's domain is not verified (or the From
address is on another domain than the verified one): that is our configuration, not the
attendee's address. The reminders wait for a retry, as with a wrong API key, and go out once an
operator has fixed the domain, instead of failing for good."""

from datetime import timedelta

from django.utils import timezone

from notifications.models import NotificationLog
from notifications.scan import run_scan
from registrations.models import Status

Msg = NotificationLog.Status
NOT_VERIFIED = (
    "The example.org domain is not verified. Please, add and verify your domain on https://resend.com/domains"
)


def test_a_reminder_refused_because_the_sending_domain_is_not_verified_goes_out_once_it_is(fake_resend, one_sided):
    reg = one_sided(Status.PAID_ONLY)
    fake_resend.reject_next(403, "validation_error", NOT_VERIFIED)

    run_scan(process="inline")

    row = NotificationLog.objects.get()
    assert row.status == Msg.QUEUED and "not verified" in row.error and row.next_attempt_at > timezone.now()

    # An operator verifies the domain in Resend; the next sweep retries the reminder.
    run_scan(process="inline", now=timezone.now() + timedelta(minutes=6))

    row.refresh_from_db()
    assert row.status == Msg.SENT
    assert [e["to"] for e in fake_resend.emails] == [[reg.attendee.email]]
