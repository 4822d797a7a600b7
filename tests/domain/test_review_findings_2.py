"""Regression guards from a second reading of merged payment rows (57f9f83) and the chunked
re-derivation of an event (df5d95f). Each test names the behaviour an operator would notice."""

from dataclasses import replace
from types import SimpleNamespace

import pytest

from registrations import services
from registrations.models import AuditLog, Registration, Status
from registrations.services import apply_booking, apply_payment, recompute_event
from tests.factories import RegistrationFactory

from .builders import booked, paid, pi_succeeded


# --- merged payment rows (57f9f83) ---------------------------------------------------------------------
@pytest.mark.django_db
def test_a_merge_that_changes_nothing_else_is_audited_once_and_a_redelivery_writes_nothing(event):
    """Regression guard: joining two rows writes exactly one payment.merged row naming the kept
    registration, and the same event delivered again (one row now) is a no-op."""
    apply_payment(replace(paid(1, "river@example.org"), payment_intent_id=""))
    apply_payment(replace(pi_succeeded(1), event_keys=paid(1).event_keys))
    reg = Registration.objects.get()
    signal = paid(1, "river@example.org", hours=48)
    apply_payment(signal)
    merged = AuditLog.objects.filter(action="payment.merged")
    assert merged.count() == 1
    assert merged.get().registration == reg
    rows = AuditLog.objects.count()
    result = apply_payment(signal)
    assert result.noop
    assert AuditLog.objects.count() == rows


# --- recompute_event in chunks (df5d95f) ---------------------------------------------------------------
@pytest.mark.django_db
def test_a_chunk_that_runs_out_of_time_queues_the_rest_from_the_first_registration_not_done(event, monkeypatch):
    """Regression guard: the continuation starts exactly at the first registration not re-derived,
    with the arguments the worker will pass back (event, source, after_pk, seconds)."""
    regs = [RegistrationFactory(event=event, status=Status.COMPLETE) for _ in range(4)]  # stale: no facts
    queued = []
    monkeypatch.setattr(services, "_queue_recompute", lambda *a, **kw: queued.append((a, kw)))
    clock = iter([0.0, 0.0, 0.0, 100.0, 100.0, 100.0])
    monkeypatch.setattr(services, "time", SimpleNamespace(monotonic=lambda: next(clock)))

    recompute_event(event.pk, "test", 0, 30)

    assert queued == [((event.pk, "test"), {"after_pk": regs[2].pk - 1})]
    done = set(AuditLog.objects.filter(action="registration.status_changed").values_list("registration", flat=True))
    assert done == {regs[0].pk, regs[1].pk}


@pytest.mark.django_db
def test_the_queued_task_runs_with_the_arguments_django_q_stores(event):
    """Regression guard: the worker calls recompute_event(*args, **kwargs) from the stored task; the
    task name is taken by django-q and not passed on as a keyword."""
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    apply_booking(booked(1, "booked@example.org"))
    services._queue_recompute(event.pk, "event spring-retreat: kind changed", after_pk=0)
    (row,) = OrmQ.objects.all()
    task = SignedPackage.loads(row.payload)
    assert task["kwargs"] == {}
    assert services.recompute_event(*task["args"], **task["kwargs"]) == 0
