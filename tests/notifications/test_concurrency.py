"""Two workers at once still produce one message per due registration (PostgreSQL only)."""

import threading

import pytest
from django.db import connection

from notifications.delivery import create_message, deliver
from notifications.models import NotificationLog, Reminder
from notifications.reminders import process_reminder
from notifications.scan import run_scan
from registrations.models import Status

from .conftest import make_registration

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises all writers on one lock, so it cannot show two scans racing; run on PostgreSQL",
    ),
]


def run_together(n, fn):
    barrier = threading.Barrier(n)
    errors = []

    def worker(i):
        try:
            barrier.wait(timeout=10)
            fn(i)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def test_two_scans_at_once_send_one_message_per_due_registration(event, fake_resend):
    regs = [make_registration(event, Status.PAID_ONLY if i % 2 else Status.BOOKED_ONLY) for i in range(30)]
    make_registration(event, Status.COMPLETE)

    results = []
    run_together(2, lambda i: results.append(run_scan(process="inline")))

    assert sum(r.claimed for r in results) == 30  # each was claimed by exactly one of the two scans
    assert len(fake_resend.emails) == 30
    assert sorted(e["to"][0] for e in fake_resend.emails) == sorted(r.attendee.email for r in regs)
    assert Reminder.objects.count() == 30 and NotificationLog.objects.filter(status="sent").count() == 30


def test_one_reminder_processed_by_two_workers_at_once_sends_once(event, fake_resend, fake_twilio):
    reg = make_registration(event, Status.BOOKED_ONLY, phone="+14155550123")
    reminder = Reminder.objects.create(registration=reg, number=1, missing="payment")

    outcomes = []
    run_together(4, lambda i: outcomes.append(process_reminder(reminder.pk)))

    assert sorted(outcomes) == ["busy", "busy", "busy", "sent"]
    assert len(fake_resend.emails) == 1 and len(fake_twilio.messages) == 1


def test_one_queued_message_delivered_by_several_workers_at_once_goes_out_once(event, fake_twilio):
    reg = make_registration(event, Status.BOOKED_ONLY, phone="+14155550123")
    message, _ = create_message(channel="sms", kind="test", recipient="+14155550123", body="Hi", registration=reg)

    run_together(4, lambda i: deliver(message.pk))

    assert len(fake_twilio.messages) == 1
    message.refresh_from_db()
    assert message.status == "sent" and message.attempts == 1
