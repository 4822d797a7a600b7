"""A delivery that arrives while its inbox row is being processed.

Acuity's body names an appointment, not a state, and an identical body (same action, same id) is
the same inbox row. If Acuity announces a second change while the first delivery's task is between
its fetch and its finish, that task fetched the old state: it must not mark the row processed as if
it had seen the new one (the booking would keep a stale time until the nightly reconciliation).

"Mid-flight" is simulated by a hook that runs right after the task's provider call answers: the
test delivers again from there (same thread, same database transaction), or, in the PostgreSQL
tests at the end, from another connection while the worker thread waits.
"""

import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django_q.models import OrmQ

from integrations import stripe_events
from integrations.clients import AcuityClient
from integrations.models import WebhookEvent
from integrations.tasks import process_webhook
from registrations.models import AuditLog, Booking, Payment

from .conftest import inbox, queued_inbox_ids, run_queue

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the row locks and conditional UPDATEs under test are PostgreSQL's"
)

LA = ZoneInfo("America/Los_Angeles")


def at(days: int, hour: int) -> datetime:
    return (datetime.now(LA) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


def drain() -> list[str]:
    """What workers do over time: run queued tasks until the queue is empty (a run may queue more)."""
    outcomes = []
    for _ in range(10):
        if not OrmQ.objects.exists():
            return outcomes
        outcomes += run_queue()
    raise AssertionError(f"the queue never drained: {outcomes}")


@pytest.fixture
def after_next_fetch(monkeypatch):
    """``after_next_fetch(fn)``: run ``fn`` once, right after the task's next Acuity appointment
    fetch has answered (or failed) and before the task writes its result."""
    hooks = []
    real = AcuityClient.get_appointment

    def get_appointment(self, appointment_id):
        try:
            return real(self, appointment_id)
        finally:
            if hooks:
                hooks.pop(0)()

    monkeypatch.setattr(AcuityClient, "get_appointment", get_appointment)
    return hooks.append


@pytest.fixture
def booked(post_acuity, fake_acuity, event):
    """An appointment already booked at the first time (its ``scheduled`` delivery processed)."""
    appt = fake_acuity.add_appointment(starts_at=at(20, 10))
    assert post_acuity(appt).status_code == 200
    assert drain() == ["processed"]
    return appt


def rescheduled_key(appt) -> str:
    return f"acuity:rescheduled:{appt['id']}:{appt['calendarID']}:{appt['appointmentTypeID']}"


def fetches(fake_acuity, appt) -> int:
    return fake_acuity.count("GET", rf"/appointments/{appt['id']}$")


# --- Acuity: a second change announced during processing ------------------------------------------


@pytest.mark.django_db
def test_a_reschedule_announced_while_the_previous_one_is_processed_ends_at_the_newest_time(
    booked, post_acuity, fake_acuity, after_next_fetch
):
    fake_acuity.reschedule(booked, at(30, 14))
    post_acuity(booked, "rescheduled")

    def rescheduled_again():  # Acuity changes again after the task fetched: same body, same row
        fake_acuity.reschedule(booked, at(40, 9))
        response = post_acuity(booked, "rescheduled")
        assert response.status_code == 200 and response.json()["duplicate"] is True

    after_next_fetch(rescheduled_again)

    # The first run fetched 14:00 on day 30; it queues the row again instead of finishing it.
    assert drain() == ["received", "processed"]
    assert Booking.objects.get().starts_at == at(40, 9)
    row = inbox(rescheduled_key(booked))
    assert (row.status, row.deliveries, row.attempts) == ("processed", 2, 1)
    assert fetches(fake_acuity, booked) == 3  # scheduled, rescheduled, rescheduled again


@pytest.mark.django_db
def test_a_delivery_during_processing_when_nothing_changed_costs_one_more_fetch_and_no_change(
    booked, post_acuity, fake_acuity, after_next_fetch
):
    post_acuity(booked, "changed")
    audit_rows = AuditLog.objects.count()
    after_next_fetch(lambda: post_acuity(booked, "changed"))

    assert drain() == ["received", "processed"]
    assert AuditLog.objects.count() == audit_rows
    assert Booking.objects.get().starts_at == at(20, 10)


@pytest.mark.django_db
def test_a_delivery_during_the_last_failing_attempt_runs_again_instead_of_failing(
    post_acuity, fake_acuity, event, settings, after_next_fetch
):
    appt = fake_acuity.add_appointment()
    post_acuity(appt)
    settings.ACUITY_USER_ID = "not-the-account"  # a permanent error: this attempt is the last

    def delivered_again_and_credentials_fixed():
        post_acuity(appt)
        settings.ACUITY_USER_ID = fake_acuity.user_id

    after_next_fetch(delivered_again_and_credentials_fixed)

    # Failed a moment later, the redelivery would have re-opened it: the same happens now.
    assert drain() == ["received", "processed"]
    assert Booking.objects.get().acuity_appointment_id == str(appt["id"])
    assert WebhookEvent.objects.get().status == "processed"


# --- redeliveries outside processing keep their meaning ---------------------------------------------


@pytest.mark.django_db
def test_an_acuity_redelivery_after_processing_finished_changes_nothing(booked, post_acuity, fake_acuity):
    audit_rows = AuditLog.objects.count()

    assert post_acuity(booked).json()["duplicate"] is True

    assert drain() == ["processed"]  # one re-check of the API, no second run
    assert fetches(fake_acuity, booked) == 2
    assert AuditLog.objects.count() == audit_rows
    assert Booking.objects.get().starts_at == at(20, 10)


@pytest.mark.django_db
def test_a_stripe_redelivery_after_processing_finished_is_only_counted(post_stripe, fake_stripe, event):
    evt = fake_stripe.session_event(fake_stripe.add_session())
    post_stripe(evt)
    assert drain() == ["processed"]

    assert post_stripe(evt).json()["duplicate"] is True

    assert drain() == []
    assert (inbox(evt["id"]).status, inbox(evt["id"]).deliveries) == ("processed", 2)
    assert fake_stripe.count("GET", r"/line_items$") == 1


@pytest.mark.django_db
def test_a_failed_acuity_row_delivered_again_runs_again(post_acuity, fake_acuity, event, settings):
    appt = fake_acuity.add_appointment()
    post_acuity(appt)
    settings.ACUITY_USER_ID = "not-the-account"
    assert drain() == ["failed"]
    settings.ACUITY_USER_ID = fake_acuity.user_id

    post_acuity(appt)

    assert (WebhookEvent.objects.get().status, WebhookEvent.objects.get().attempts) == ("received", 0)
    assert drain() == ["processed"]
    assert Booking.objects.get().acuity_appointment_id == str(appt["id"])


@pytest.mark.django_db
def test_a_stripe_event_delivered_again_while_processed_runs_once(post_stripe, fake_stripe, event, monkeypatch):
    """An evt_… is one immutable event: its redelivery during processing carries nothing new."""
    evt = fake_stripe.session_event(fake_stripe.add_session())
    post_stripe(evt)
    real = stripe_events.signals_for
    redelivered = []

    def signals_for(body, event_id):
        signals = real(body, event_id)
        if not redelivered:
            redelivered.append(post_stripe(evt).status_code)
        return signals

    monkeypatch.setattr(stripe_events, "signals_for", signals_for)

    assert drain() == ["processed"]
    assert redelivered == [200]
    row = inbox(evt["id"])
    assert (row.status, row.deliveries, row.attempts) == ("processed", 2, 1)
    assert Payment.objects.count() == 1 and fake_stripe.count("GET", r"/line_items$") == 1


# --- PostgreSQL, with a real worker thread and the intake on another connection ----------------------


class PausedWorker:
    """``process_webhook(pk)`` in a thread of its own, held right after its first Acuity fetch."""

    def __init__(self, monkeypatch, pk):
        self.fetched, self.go = threading.Event(), threading.Event()
        self.outcome, self.errors = None, []
        real = AcuityClient.get_appointment

        def get_appointment(client, appointment_id):
            answer = real(client, appointment_id)
            if not self.fetched.is_set():
                self.fetched.set()
                assert self.go.wait(10)
            return answer

        monkeypatch.setattr(AcuityClient, "get_appointment", get_appointment)
        self.thread = threading.Thread(target=self._run, args=(pk,))
        self.thread.start()
        assert self.fetched.wait(10), "the worker never fetched"

    def _run(self, pk):
        try:
            self.outcome = process_webhook(pk)
        except Exception as exc:  # pragma: no cover - reported by finish()
            self.errors.append(exc)
        finally:
            connection.close()  # this thread's own connection: the test database must be droppable

    def finish(self) -> str:
        self.go.set()
        self.thread.join(15)
        assert not self.thread.is_alive() and self.errors == []
        return self.outcome


def waiting_for_a_row_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_a_worker_mid_flight_on_another_connection_runs_the_row_again(booked, post_acuity, fake_acuity, monkeypatch):
    fake_acuity.reschedule(booked, at(30, 14))
    post_acuity(booked, "rescheduled")
    OrmQ.objects.all().delete()  # the worker below takes this task
    worker = PausedWorker(monkeypatch, inbox(rescheduled_key(booked)).pk)

    fake_acuity.reschedule(booked, at(40, 9))
    assert post_acuity(booked, "rescheduled").status_code == 200  # committed while the worker waits

    assert worker.finish() == "received"
    assert queued_inbox_ids() == [inbox(rescheduled_key(booked)).pk]
    assert drain() == ["processed"]
    assert Booking.objects.get().starts_at == at(40, 9)


@pytest.mark.django_db(transaction=True)
def test_a_worker_finishing_while_the_intake_holds_the_row_waits_and_then_runs_again(
    booked, post_acuity, fake_acuity, monkeypatch
):
    """The intake counts the delivery under the row's lock; the worker's finish arrives in between
    (it waits for the lock) and must see the count the intake commits, not the one it read."""
    fake_acuity.reschedule(booked, at(30, 14))
    post_acuity(booked, "rescheduled")
    OrmQ.objects.all().delete()
    worker = PausedWorker(monkeypatch, inbox(rescheduled_key(booked)).pk)
    fake_acuity.reschedule(booked, at(40, 9))

    with transaction.atomic():
        assert post_acuity(booked, "rescheduled").status_code == 200  # row locked and counted, not committed
        worker.go.set()
        deadline = time.monotonic() + 10
        while not waiting_for_a_row_lock():
            assert time.monotonic() < deadline, "the worker's finish never waited for the intake's lock"
            time.sleep(0.02)

    assert worker.finish() == "received"
    assert drain() == ["processed"]
    assert Booking.objects.get().starts_at == at(40, 9)
    assert inbox(rescheduled_key(booked)).deliveries == 2
