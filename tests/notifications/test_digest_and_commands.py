"""The operators' daily digest, the schedules and the management commands."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from integrations.models import WebhookEvent
from notifications.delivery import create_message
from notifications.digest import send_digest
from notifications.models import NotificationLog, Reminder
from notifications.schedules import SCHEDULES
from registrations.models import ReviewItem, Status


@pytest.fixture
def operators(db):
    User = get_user_model()
    return [
        User.objects.create_user("ana", "ana@example.org", "x", is_staff=True),
        User.objects.create_user("ben", "ben@example.org", "x", is_staff=True),
        User.objects.create_user("noemail", "", "x", is_staff=True),
        User.objects.create_user("gone", "gone@example.org", "x", is_staff=True, is_active=False),
        User.objects.create_user("guest", "guest@example.org", "x", is_staff=False),
    ]


def test_no_digest_when_there_is_nothing_to_say(operators):
    old = ReviewItem.objects.create(kind="dispute", key="old", explanation="old one")
    ReviewItem.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    assert send_digest() == {"sent": 0, "reason": "nothing to report"}
    assert mail.outbox == []


def test_the_digest_lists_new_reviews_failed_webhooks_and_failed_messages_once_a_day(operators, one_sided):
    reg = one_sided(Status.PAID_ONLY)
    ReviewItem.objects.create(kind="dispute", key="d1", explanation="Chargeback on River's payment", event=reg.event)
    WebhookEvent.objects.create(provider="stripe", event_id="evt_x", body="{}", status="failed", last_error="boom")
    create_message(
        channel="email", kind="reminder_booking", recipient="bounce@example.org", status="bounced", error="no mailbox"
    )
    Reminder.objects.create(registration=reg, number=1, missing="booking", status="deferred", attempts=4)

    result = send_digest()

    assert result["sent"] == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["ana@example.org", "ben@example.org"]
    message = mail.outbox[0]
    assert message.subject == (
        "JLF daily digest: 1 new review item, 1 failed webhook, 1 failed message, 1 stuck reminder"
    )
    assert "Chargeback on River's payment" in message.body and "boom" in message.body
    assert "bounce@example.org" in message.body and "no mailbox" in message.body
    assert NotificationLog.objects.filter(kind="operator_digest").count() == 2

    send_digest()  # a second worker, or a rerun, the same day
    assert len(mail.outbox) == 2


def test_schedules_are_declared_for_the_scan_and_the_digest_and_install_idempotently(db):
    from django_q.models import Schedule

    by_name = {s["name"]: s for s in SCHEDULES}
    assert by_name["notifications.reminders"]["minutes"] == 5
    assert by_name["notifications.reminders"]["func"] == "notifications.tasks.scan_reminders"
    call_command("setup_schedules", stdout=StringIO())
    call_command("setup_schedules", stdout=StringIO())
    assert Schedule.objects.filter(name__startswith="notifications.").count() == 2


def test_send_reminders_command_dry_run_claims_nothing_and_inline_sends(one_sided):
    reg = one_sided(Status.PAID_ONLY)
    out = StringIO()
    call_command("send_reminders", "--dry-run", stdout=out)
    assert reg.reference in out.getvalue() and "1 due" in out.getvalue()
    assert Reminder.objects.count() == 0

    out = StringIO()
    call_command("send_reminders", "--inline", stdout=out)
    assert "1 claimed" in out.getvalue() and len(mail.outbox) == 1


def test_the_scheduled_task_queues_work_for_the_worker(one_sided):
    from django_q.models import OrmQ

    from notifications.tasks import process_reminders, scan_reminders

    one_sided(Status.PAID_ONLY)
    summary = scan_reminders()
    assert summary["claimed"] == 1 and OrmQ.objects.count() == 1 and mail.outbox == []
    assert process_reminders([Reminder.objects.get().pk]) == {"sent": 1}
    assert len(mail.outbox) == 1


def test_digest_command_dry_run_prints_and_sends_nothing(operators):
    ReviewItem.objects.create(kind="dispute", key="d2", explanation="Look at me")
    out = StringIO()
    call_command("send_operator_digest", "--dry-run", stdout=out)
    assert "Look at me" in out.getvalue() and "Would go to 2 operator(s)" in out.getvalue()
    assert mail.outbox == []
