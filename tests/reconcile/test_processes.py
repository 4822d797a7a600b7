"""Reconciliation with several apply processes (RECONCILE_APPLY_PROCESSES > 1) ends exactly where
one process ends: the same registrations, statuses, facts, review cards, audit trail and counts.

These tests commit for real (the forked processes have their own connections and cannot see a
test's open transaction)."""

import os
import time
from collections import Counter

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction

from integrations import reconcile_pool
from integrations.models import ReconcileRun
from integrations.reconcile import reconcile, scheduled_reconcile
from integrations.reconcile_sources import parse_since
from registrations import services
from registrations.models import AuditLog, Booking, Event, EventMapping, Payment, Refund, Registration, ReviewItem

from .conftest import day, run_command

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="several apply processes are used only on PostgreSQL (SQLite takes one writer at a time); "
        "tests/reconcile covers the one-process run on SQLite",
    ),
]

EVENTS = ("spring", "summer", "autumn")


def _events():
    for n, slug in enumerate(EVENTS):
        ev = Event.objects.create(name=slug.title(), slug=slug, starts_at=day(30 + n), price=12000)
        EventMapping.objects.create(kind="stripe_payment_link", value=f"plink_{slug}", event=ev)
        EventMapping.objects.create(kind="acuity_appointment_type", value=str(5_000_000 + n), event=ev)


def _fill(stripe, acuity):
    """Every kind of record a first run meets, spread over three events."""
    for n, slug in enumerate(EVENTS):
        link, atype = f"plink_{slug}", 5_000_000 + n
        for i in range(6):  # pay and book
            email = f"both{i}.{slug}@example.org"
            stripe.add_session(email=email, name=f"Both{i} {slug.title()}", payment_link=link)
            acuity.add_appointment(
                email=email, first_name=f"Both{i}", last_name=slug.title(), appointment_type_id=atype, starts_at=day(20)
            )
        stripe.add_session(email=f"payonly.{slug}@example.org", name="Pay Only", payment_link=link)
        acuity.add_appointment(
            email=f"bookonly.{slug}@example.org", first_name="Book", last_name="Only", appointment_type_id=atype
        )
        # One person, two addresses: a suggested match for an operator.
        stripe.add_session(email=f"jo.private.{slug}@example.org", name="Joanna Whitfield", payment_link=link)
        acuity.add_appointment(
            email=f"jo.work.{slug}@example.org", first_name="Joanna", last_name="Whitfield", appointment_type_id=atype
        )
        stripe.add_session(email=f"group.{slug}@example.org", name="Group Payer", payment_link=link, quantity=3)
        acuity.add_appointment(
            email=f"gone.{slug}@example.org",
            first_name="Gone",
            last_name="Away",
            appointment_type_id=atype,
            canceled=True,
        )
        refunded = stripe.add_session(email=f"refunded.{slug}@example.org", name="Re Funded", payment_link=link)
        stripe.refund(refunded)
    # Someone at all three events: each event's process may create the attendee first.
    for n, slug in enumerate(EVENTS):
        stripe.add_session(email="everywhere@example.org", name="Ever Where", payment_link=f"plink_{slug}")
        acuity.add_appointment(
            email="everywhere@example.org", first_name="Ever", last_name="Where", appointment_type_id=5_000_000 + n
        )


def _state():
    """What an operator sees, without ids and times."""
    regs = sorted(
        (r.event.slug, r.attendee.email, r.status, r.source)
        for r in Registration.objects.select_related("event", "attendee")
    )
    payments = sorted(
        (
            p.checkout_session_id,
            p.state,
            p.amount_refunded,
            p.quantity,
            p.registration.attendee.email if p.registration else "",
        )
        for p in Payment.objects.select_related("registration__attendee")
    )
    bookings = sorted(
        (b.acuity_appointment_id, b.cancelled, b.registration.attendee.email if b.registration else "")
        for b in Booking.objects.select_related("registration__attendee")
    )
    items = sorted(
        (i.kind, i.state, i.registration.attendee.email if i.registration else "", i.event.slug if i.event else "")
        for i in ReviewItem.objects.select_related("registration__attendee", "event")
    )
    audit = Counter(AuditLog.objects.values_list("action", flat=True))
    refunds = Refund.objects.filter(payment__isnull=False).count()
    return regs, payments, bookings, items, audit, refunds


def _run(settings, processes):
    settings.RECONCILE_APPLY_PROCESSES = processes  # what the commands pass on
    run = reconcile(since=parse_since("3d"), options={"since": "3d"}, processes=processes)
    return run.status, run.counts


def _wipe():
    call_command("flush", interactive=False, verbosity=0)
    _events()


def test_two_processes_end_exactly_where_one_process_ends(settings, fake_stripe, fake_acuity, monkeypatch):
    pools = []

    class Spy(reconcile_pool.ApplyPool):
        def __init__(self, processes):
            pools.append(processes)
            super().__init__(processes)

    monkeypatch.setattr("integrations.reconcile.ApplyPool", Spy)
    _events()
    _fill(fake_stripe, fake_acuity)
    one = _run(settings, 1)
    expected = _state()
    _wipe()

    two = _run(settings, 2)

    assert pools == [2]  # the second run forked two processes, the first applied in this one
    assert one[0] == "ok" and two == one  # same status, same counts per event and provider
    assert _state() == expected
    regs = expected[0]
    assert ("spring", "both0.spring@example.org", "complete", "reconciliation") in regs
    assert [r for r in regs if r[1] == "everywhere@example.org"] == [
        (slug, "everywhere@example.org", "complete", "reconciliation") for slug in sorted(EVENTS)
    ]
    assert any(kind == "suggested_match" for kind, *_ in expected[3])
    assert expected[5] == 3  # each refund found its payment


def test_a_second_run_with_two_processes_changes_nothing(settings, fake_stripe, fake_acuity):
    _events()
    _fill(fake_stripe, fake_acuity)
    _run(settings, 2)
    before, audit_rows = _state(), AuditLog.objects.count()

    status, counts = _run(settings, 2)

    assert status == "ok" and _state() == before and AuditLog.objects.count() == audit_rows
    assert all(c["new"] == c["changed"] == 0 for per in counts.values() for c in per.values())


def test_a_record_that_fails_in_an_apply_process_is_an_error_of_its_event_and_the_rest_is_applied(
    settings, fake_stripe, fake_acuity, monkeypatch
):
    _events()
    _fill(fake_stripe, fake_acuity)
    real = services.apply_booking

    def broken(signal, **kwargs):
        if signal.email == "bookonly.summer@example.org":
            raise ValueError("simulated bad record")
        return real(signal, **kwargs)

    monkeypatch.setattr(services, "apply_booking", broken)  # the forked processes inherit it

    status, counts = _run(settings, 2)

    run = ReconcileRun.objects.get()
    assert status == "partial"
    assert counts["summer"]["acuity"]["errors"] == 1
    aid = _appointment_id(fake_acuity, "bookonly.summer@example.org")
    assert [e["message"] for e in run.errors] == [f"appointment {aid}: ValueError: simulated bad record"]
    assert not Registration.objects.filter(attendee__email="bookonly.summer@example.org").exists()
    assert Registration.objects.filter(attendee__email="bookonly.spring@example.org").exists()


def _appointment_id(acuity, email):
    return next(str(a["id"]) for a in acuity.appointments.values() if a["email"] == email)


def test_an_apply_process_that_dies_stops_the_run_with_a_message_instead_of_hanging(
    settings, fake_stripe, fake_acuity, monkeypatch
):
    _events()
    _fill(fake_stripe, fake_acuity)
    real = services.apply_payment

    def dies(signal, **kwargs):
        if signal.email == "payonly.autumn@example.org":
            os._exit(3)
        return real(signal, **kwargs)

    monkeypatch.setattr(services, "apply_payment", dies)
    settings.RECONCILE_APPLY_PROCESSES = 2

    with pytest.raises(CommandError, match="stopped while applying records"):
        run_command()  # manage.py reconcile: a clear error, not a traceback

    run = ReconcileRun.objects.get()
    assert run.status == "failed" and run.finished_at is not None
    assert "run the reconciliation again" in run.errors[-1]["message"]


def test_the_daily_task_a_dry_run_and_sqlite_apply_in_their_own_process(
    settings, fake_stripe, fake_acuity, monkeypatch
):
    pools = []
    monkeypatch.setattr("integrations.reconcile.ApplyPool", lambda n: pools.append(n))
    settings.RECONCILE_APPLY_PROCESSES = 2
    _events()
    _fill(fake_stripe, fake_acuity)

    dry = run_command("--dry-run")
    scheduled_reconcile()  # inside a django-q2 worker: never forks

    assert pools == []
    assert dry.run.dry_run and ReconcileRun.objects.get(kind="scheduled").status == "ok"
    assert Registration.objects.filter(status="complete").count() == 3 * 6 + 3
    assert reconcile_pool.usable(2) and not reconcile_pool.usable(1)
    with transaction.atomic():
        assert not reconcile_pool.usable(2)  # forking would need this transaction's connection closed
    monkeypatch.setattr(connection, "vendor", "sqlite")
    assert not reconcile_pool.usable(2)  # one writer at a time


def test_reading_waits_for_the_apply_processes_instead_of_queueing_every_record(
    settings, fake_stripe, fake_acuity, monkeypatch
):
    waiting = []

    class Spy(reconcile_pool.ApplyPool):
        def submit(self, *args, **kwargs):
            waiting.append(len(self.pending))
            super().submit(*args, **kwargs)

    monkeypatch.setattr("integrations.reconcile.ApplyPool", Spy)
    monkeypatch.setattr("integrations.reconcile.MAX_QUEUED_RECORDS", 4)
    _events()
    _fill(fake_stripe, fake_acuity)

    status, counts = _run(settings, 2)

    assert status == "ok" and len(waiting) == sum(c["new"] for per in counts.values() for c in per.values())
    assert max(waiting) <= 4


def test_apply_processes_never_talk_on_a_connection_the_run_left_open(settings, fake_stripe, fake_acuity, monkeypatch):
    """A forked process that used a connection the run still had open would read the run's (and
    the other process's) answers: seen once in a full test run, records failed with 'the last
    operation didn't produce records' and the run hung. Here the run's connection stays open
    across the fork on purpose."""
    _events()
    _fill(fake_stripe, fake_acuity)
    _run(settings, 1)
    expected = _state()
    _wipe()
    connection.ensure_connection()
    monkeypatch.setattr(connections, "close_all", lambda: None)

    two = _run(settings, 2)

    assert two[0] == "ok" and _state() == expected


def test_apply_processes_that_stop_answering_stop_the_run_with_a_message(
    settings, fake_stripe, fake_acuity, monkeypatch
):
    _events()
    _fill(fake_stripe, fake_acuity)
    real = services.apply_booking

    def stuck(signal, **kwargs):
        if signal.email == "bookonly.summer@example.org":
            time.sleep(60)
        return real(signal, **kwargs)

    monkeypatch.setattr(services, "apply_booking", stuck)
    monkeypatch.setattr(reconcile_pool, "STALL_SECONDS", 2)

    with pytest.raises(reconcile_pool.ApplyProcessDied, match="applied nothing for 2 s"):
        _run(settings, 2)

    run = ReconcileRun.objects.get()
    assert run.status == "failed" and "run the reconciliation again" in run.errors[-1]["message"]
