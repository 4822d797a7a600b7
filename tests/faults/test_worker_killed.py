"""Fault: the worker (``manage.py qcluster``) is SIGKILLed in the middle of work and restarted.

Real HTTP into the live server, a real qcluster subprocess on the test database, the fake
providers. The kill lands inside two tasks at once: one fetching an appointment from a slow
Acuity, and one that has recorded a payment but not yet marked its inbox row processed (held there
by a row lock the test takes). Nothing is acknowledged by a killed worker: django-q2's ORM broker
hands its tasks out again after Q_RETRY seconds, and a row whose attempt was cut off is re-queued
by the webhook sweeper once that attempt's lease has expired. Whatever the timing, every delivery is processed
exactly once, and an email Resend already accepted is not sent a second time.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_q.models import OrmQ
from django_q.tasks import async_task

from integrations.models import WebhookEvent
from notifications.models import NotificationLog
from registrations.models import AuditLog, Booking, Payment, Registration, Status

from .conftest import database_url, requires_postgres
from .helpers import Deliveries, app_env, new_person, seed_event, start_sweeper, start_worker, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), requires_postgres]

PROCESSED = WebhookEvent.Status.PROCESSED


def unfinished() -> int:
    return WebhookEvent.objects.exclude(status=PROCESSED).count()


def lock_waiters(terminate: bool = False) -> int:
    """How many sessions of the test database wait for a lock (the only lock the test holds is on
    the victim's inbox row); with ``terminate``, end them."""
    what = "pg_terminate_backend(pid)" if terminate else "pid"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {what} FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return len(cursor.fetchall())


def burst(post: Deliveries, payments: int, every: int) -> list:
    """``payments`` checkout deliveries; after every ``every``-th, a booking by the same person
    (whose appointment fetch the slow fake Acuity makes last seconds)."""
    out = []
    for i in range(payments):
        person = new_person()
        out.append(post.new_stripe(person))
        if i % every == every - 1:
            out.append(post.new_acuity(person))
    return out


def test_worker_killed_mid_burst_then_restarted_processes_every_delivery_exactly_once(
    live_server, processes, fake_stripe, fake_acuity
):
    seed_event()
    env = app_env(database_url(), settings.SECRET_KEY, stripe=fake_stripe, acuity=fake_acuity)
    fake_acuity.fetch_delay = 2.0
    worker = start_worker(processes, env)
    sweeper = start_sweeper(processes, env)
    post = Deliveries(live_server.url, fake_stripe, fake_acuity)

    # First half of the burst while the worker runs: 40 payments and 4 bookings. The 5th payment
    # is the "victim": its line items come back slowly, so the test can lock its inbox row after
    # the worker claimed it; the worker then records the payment (committed) and blocks writing
    # "processed" — the kill will land between those two commits.
    first = burst(post, 40, every=10)
    victim = first[4]
    fake_stripe.slow_line_items[victim.object_id] = 1.5
    assert [post.post(d) for d in first] == [200] * len(first)
    victim_row = WebhookEvent.objects.filter(event_id=victim.event_id)
    wait_until(
        lambda: victim_row.filter(locked_until__isnull=False).exists(),
        60,
        "the worker to claim the victim",
        watch=[worker],
        interval=0.02,
    )
    lock = psycopg.connect(database_url())
    try:
        lock.execute("SELECT id FROM integrations_webhookevent WHERE event_id = %s FOR UPDATE", [victim.event_id])
        wait_until(
            lambda: Payment.objects.filter(checkout_session_id=victim.object_id).exists() and lock_waiters() == 1,
            30,
            "the victim's payment to be recorded and the worker to wait to mark its row processed",
            watch=[worker],
        )

        # Kill it while it is also inside another task (an appointment fetch began under a second
        # ago, so it is still under way when the kill lands), with work left.
        wait_until(
            lambda: (
                fake_acuity.fetch_started_within(1.0) and WebhookEvent.objects.filter(status=PROCESSED).count() >= 5
            ),
            90,
            "the worker to be fetching an appointment after processing a few deliveries",
            watch=[worker],
            interval=0.05,
        )
        worker.kill()
        # The dead worker's database session, still queued behind the lock, dies with it (a
        # session waiting for a lock does not notice that its client is gone).
        assert lock_waiters(terminate=True) == 1
    finally:
        lock.close()
    now = timezone.now()
    cut_off = list(WebhookEvent.objects.filter(status=WebhookEvent.Status.RECEIVED, locked_until__gt=now))
    assert {row.event_id for row in cut_off} >= {victim.event_id}
    assert any(row.provider == "acuity" for row in cut_off), "the kill lands inside an appointment fetch"
    assert unfinished() > 0
    victim_payment = Payment.objects.get(checkout_session_id=victim.object_id)
    assert AuditLog.objects.filter(action="payment.recorded", object_id=str(victim_payment.pk)).count() == 1
    processed_before_kill = list(WebhookEvent.objects.filter(status=PROCESSED).values_list("event_id", flat=True))

    # While no worker runs, the web keeps accepting: second half, plus redeliveries of events
    # that were already processed (providers retry when an answer was slow or lost).
    second = burst(post, 20, every=5)
    assert [post.post(d) for d in second] == [200] * len(second)
    again = [d for d in first if d.event_id in set(processed_before_kill) and d.provider == "stripe"][:5]
    assert [post.post(d) for d in again] == [200] * len(again)

    worker = start_worker(processes, env)
    wait_until(lambda: unfinished() == 0, 150, "every delivery to be processed", watch=[worker, sweeper])

    deliveries = first + second
    rows = {row.event_id: row for row in WebhookEvent.objects.all()}
    assert set(rows) == {d.event_id for d in deliveries}
    assert {row.status for row in rows.values()} == {PROCESSED}
    for row in cut_off:  # the attempts the kill cut off ran again to the end
        assert rows[row.event_id].attempts >= 2, rows[row.event_id].__dict__
    for d in again:
        assert rows[d.event_id].deliveries == 2
    assert "already known" in rows[victim.event_id].result  # its second run found the payment there

    # Exactly once: one fact per provider id and one "recorded" audit entry per fact.
    sessions = {d.object_id for d in deliveries if d.provider == "stripe"}
    appointments = {d.object_id for d in deliveries if d.provider == "acuity"}
    assert (len(sessions), len(appointments)) == (60, 8)
    assert set(Payment.objects.values_list("checkout_session_id", flat=True)) == sessions
    assert Payment.objects.count() == 60
    assert set(Booking.objects.values_list("acuity_appointment_id", flat=True)) == appointments
    assert Booking.objects.count() == 8
    recorded = Counter(AuditLog.objects.filter(action="payment.recorded").values_list("object_id", flat=True))
    assert recorded == Counter({str(pk): 1 for pk in Payment.objects.values_list("pk", flat=True)})
    booked = Counter(AuditLog.objects.filter(action="booking.recorded").values_list("object_id", flat=True))
    assert booked == Counter({str(pk): 1 for pk in Booking.objects.values_list("pk", flat=True)})

    statuses = Counter(Registration.objects.values_list("status", flat=True))
    assert statuses == Counter({Status.PAID_ONLY: 52, Status.COMPLETE: 8})
    assert not OrmQ.objects.exists()


def test_worker_killed_after_resend_accepted_an_email_does_not_send_it_twice(processes, fake_resend):
    env = app_env(database_url(), settings.SECRET_KEY, resend=fake_resend)
    worker = start_worker(processes, env)

    # Resend accepts the email (it will be delivered), then the worker dies before it hears back.
    fake_resend.hold = True
    async_task(
        "notifications.email.send_email",
        "river.stone@example.org",
        "Your place at the Fault Retreat",
        "See you on Saturday.",
        kind="fault_test",
        dedupe_key="fault-test/1",
    )
    wait_until(fake_resend.holding.is_set, 60, "Resend to accept the email", watch=[worker])
    worker.kill()
    fake_resend.release()
    message = NotificationLog.objects.get(dedupe_key="fault-test/1")
    assert (message.status, message.provider_id, message.attempts) == (NotificationLog.Status.QUEUED, "", 1)
    assert len(fake_resend.emails) == 1

    # django-q2 hands the un-acknowledged task out again (after Q_RETRY): the message is still
    # leased by the dead attempt, so that run sends nothing.
    worker = start_worker(processes, env)
    wait_until(
        lambda: not OrmQ.objects.exists(), 60, "the re-presented task to run and be acknowledged", watch=[worker]
    )
    assert len(fake_resend.posts()) == 1
    message.refresh_from_db()
    assert message.status == NotificationLog.Status.QUEUED

    # Two minutes later the dead attempt's lease has run out (moved into the past here rather than
    # waited for) and the reminder scan's sweep, every 5 minutes in production, retries it now.
    NotificationLog.objects.filter(pk=message.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    async_task("notifications.tasks.scan_reminders")
    wait_until(
        lambda: NotificationLog.objects.get(pk=message.pk).status != NotificationLog.Status.QUEUED,
        60,
        "the retried message to be recorded",
        watch=[worker],
    )

    message.refresh_from_db()
    posts = fake_resend.posts()
    assert len(posts) == 2, "the retry asks Resend again…"
    assert {p.headers.get("idempotency-key") for p in posts} == {message.idempotency_key}
    assert len(fake_resend.emails) == 1, "…and Resend, seeing the same Idempotency-Key, sends nothing new"
    assert message.status == NotificationLog.Status.SENT
    assert message.provider_id == fake_resend.emails[0]["id"]
    assert message.attempts == 2
