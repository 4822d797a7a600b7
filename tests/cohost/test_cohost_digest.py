"""The opt-in daily digest: news per event, nothing when there is nothing to say, once a day."""

from __future__ import annotations

from datetime import timedelta
from smtplib import SMTPException

from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.utils import timezone

from jlf.schedules import registered_schedules
from registrations.cohost.digest import send_daily_digests
from registrations.cohost.schedules import SCHEDULES
from registrations.models import AuditLog, CoHost, Registration

from .conftest import AMOUNT_TEXT, book, pay


class FailingBackend(BaseEmailBackend):
    def send_messages(self, messages):
        raise SMTPException("mail server down")


def opt_in(*sides):
    CoHost.objects.filter(pk__in=[s.cohost.pk for s in sides]).update(daily_digest=True)


def test_nobody_gets_a_digest_without_opting_in(world):
    assert send_daily_digests()["sent"] == 0
    assert mail.outbox == []


def test_digest_lists_new_registrations_and_who_is_incomplete_per_event(world):
    opt_in(world.alice)
    summary = send_daily_digests()
    assert summary["sent"] == 1
    (message,) = mail.outbox
    assert message.to == ["alice@example.net"]
    assert "3 new, 2 still incomplete" in message.subject
    body = message.body
    assert "Spring retreat" in body
    assert "spring.paidonly@example.org" in body and "missing: booking a place" in body
    assert "spring.bookedonly@example.org" in body and "missing: payment" in body
    assert "autumn" not in body.lower()
    assert AMOUNT_TEXT not in body and AMOUNT_TEXT not in message.alternatives[0][0]
    assert AuditLog.objects.filter(action="cohost.digest_sent").count() == 1


def test_a_second_run_the_same_day_sends_nothing(world):
    opt_in(world.alice)
    send_daily_digests()
    assert send_daily_digests(timezone.now() + timedelta(hours=3)) == {
        "sent": 0, "queued": 0, "nothing_to_say": 0, "already_sent": 1, "failed": 0,
    }  # fmt: skip
    assert len(mail.outbox) == 1


def test_next_days_digest_has_only_what_is_new_since_the_last_one(world):
    opt_in(world.alice)
    send_daily_digests()
    tomorrow = timezone.now() + timedelta(days=1)
    Registration.objects.update(created_at=timezone.now() - timedelta(hours=1))
    pay(world.alice.event, "late.comer@example.org", "Late Comer")
    Registration.objects.filter(attendee__email="late.comer@example.org").update(
        created_at=tomorrow - timedelta(hours=1)
    )
    send_daily_digests(tomorrow)
    body = mail.outbox[-1].body
    assert "New (1)" in body and "late.comer@example.org" in body
    assert "Still incomplete (3)" in body


def test_nothing_is_sent_when_nothing_is_new_and_nobody_is_incomplete(world):
    opt_in(world.bob)
    for email in ("autumn.paidonly@example.org",):
        book(world.bob.event, email, "Autumn", "Paidonly")
    pay(world.bob.event, "autumn.bookedonly@example.org", "Autumn Bookedonly")
    Registration.objects.update(created_at=timezone.now() - timedelta(days=3))
    summary = send_daily_digests()
    assert summary["nothing_to_say"] == 1 and mail.outbox == []


def test_past_events_drop_out_of_the_digest(world):
    opt_in(world.alice)
    event = world.alice.event
    event.starts_at = timezone.now() - timedelta(days=10)
    event.ends_at = event.starts_at + timedelta(hours=4)
    event.save()
    assert send_daily_digests()["nothing_to_say"] == 1


def test_a_transient_mail_failure_is_queued_and_retried_once_not_resent(world, settings, mailoutbox):
    from notifications.delivery import deliver
    from notifications.models import NotificationLog

    opt_in(world.alice)
    settings.EMAIL_BACKEND = "tests.cohost.test_cohost_digest.FailingBackend"
    assert send_daily_digests()["queued"] == 1
    message = NotificationLog.objects.get(kind="cohost_digest")
    assert message.status == NotificationLog.Status.QUEUED
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert send_daily_digests()["already_sent"] == 1  # the claim holds: no second digest
    message.refresh_from_db()
    deliver(message.pk, now=message.next_attempt_at)
    assert len(mailoutbox) == 1


def test_the_command_reports_sent_and_queued(world, settings, capsys):
    opt_in(world.alice, world.bob)
    call_command("send_cohost_digests")
    assert "2 sent" in capsys.readouterr().out
    settings.EMAIL_BACKEND = "tests.cohost.test_cohost_digest.FailingBackend"
    CoHost.objects.update(digest_last_sent_at=None)
    call_command("send_cohost_digests")
    assert "2 queued for retry" in capsys.readouterr().out


def test_the_digest_is_scheduled_through_the_schedule_registry(db):
    (entry,) = SCHEDULES
    assert entry["func"] == "registrations.cohost.digest.send_daily_digests"
    assert any(s["name"] == entry["name"] for s in registered_schedules())
