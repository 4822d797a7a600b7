"""The daily schedule is created idempotently by setup_schedules and reaches the worker with a
long timeout; only one run at a time, and a dead run never blocks the next."""

import importlib
import io
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone
from django_q.models import OrmQ, Schedule
from django_q.signing import SignedPackage

from integrations import schedules
from integrations.models import ReconcileRun
from integrations.reconcile import _LOCK_KEY, scheduled_reconcile
from registrations.models import Payment

NAME = "integrations.reconcile.daily"


def _setup_schedules():
    out = io.StringIO()
    call_command("setup_schedules", stdout=out)
    return out.getvalue()


def test_setup_schedules_creates_the_daily_reconciliation_once(db):
    _setup_schedules()
    _setup_schedules()

    [schedule] = Schedule.objects.filter(name=NAME)
    assert schedule.func == "integrations.reconcile.scheduled_reconcile"
    assert schedule.schedule_type == Schedule.CRON and schedule.cron == "15 3 * * *"
    # the first run is the next 03:15, not "now" (a deploy must not start a reconciliation)
    assert timezone.now() < schedule.next_run <= timezone.now() + timedelta(days=1)
    assert timezone.localtime(schedule.next_run).strftime("%H:%M") == "03:15"


def test_the_time_of_day_is_a_setting(db, settings):
    settings.RECONCILE_AT = "22:40"
    try:
        importlib.reload(schedules)
        _setup_schedules()
        assert Schedule.objects.get(name=NAME).cron == "40 22 * * *"
    finally:
        settings.RECONCILE_AT = "03:15"
        importlib.reload(schedules)


@pytest.mark.parametrize("bad", ["3:75", "noon", "25:00"])
def test_a_malformed_time_of_day_is_refused_clearly(bad):
    with pytest.raises(ValueError, match="RECONCILE_AT must look like 03:15"):
        schedules._daily_cron(bad)


def test_the_worker_gets_the_long_reconciliation_timeout(db, settings, monkeypatch):
    from django_q import scheduler as q_scheduler

    # the scheduler closes "old" connections, which would close the test's transaction
    monkeypatch.setattr(q_scheduler, "close_old_django_connections", lambda: None)

    _setup_schedules()
    Schedule.objects.filter(name=NAME).update(next_run=timezone.now() - timedelta(seconds=1))
    Schedule.objects.exclude(name=NAME).delete()

    q_scheduler.scheduler()

    [queued] = OrmQ.objects.all()
    task = SignedPackage.loads(queued.payload)
    assert task["func"] == "integrations.reconcile.scheduled_reconcile"
    assert task["timeout"] == settings.RECONCILE_TASK_TIMEOUT
    assert task["kwargs"] == {}


def test_the_scheduled_run_reconciles_with_the_default_window(event, providers):
    stripe, _ = providers
    stripe.add_session(email="nightly@example.org")

    line = scheduled_reconcile()

    run = ReconcileRun.objects.get()
    assert run.kind == "scheduled" and run.status == "ok" and run.options["since"] == "3d"
    assert Payment.objects.count() == 1
    assert line.startswith(f"run #{run.pk} scheduled: completed") and "1 new" in line


@contextmanager
def _another_run_holds_the_lock():
    if connection.vendor == "postgresql":
        other = connections.create_connection("default")
        with other.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", [_LOCK_KEY])
        try:
            yield
        finally:
            other.close()
    else:
        ReconcileRun.objects.create(status=ReconcileRun.Status.RUNNING)
        yield


def test_a_second_run_while_one_is_running_is_refused(event, providers):
    from .conftest import run_command

    with _another_run_holds_the_lock():
        result = run_command(expect_ok=False)
        assert "Another reconciliation is still running" in str(result.error)
        assert scheduled_reconcile().startswith("skipped: Another reconciliation")
    assert not Payment.objects.exists()


def test_a_run_that_died_does_not_block_the_next_one(event, providers, settings):
    from .conftest import run_command

    dead = ReconcileRun.objects.create(status=ReconcileRun.Status.RUNNING)
    ReconcileRun.objects.filter(pk=dead.pk).update(
        started_at=timezone.now() - timedelta(seconds=settings.RECONCILE_TASK_TIMEOUT + 60)
    )

    result = run_command()

    dead.refresh_from_db()
    assert dead.status == ReconcileRun.Status.FAILED and "interrupted" in dead.errors[0]["message"]
    assert result.run.status == ReconcileRun.Status.OK
