"""A second reading of replay after a mapping (77c54f1), merged payment rows (57f9f83), the chunked
re-derivation of an event (df5d95f, ab9821b, af63126) and the suggested-match lock (fe5ec43).
Each test names the behaviour an operator would notice."""

import json
import threading
import time
from dataclasses import replace
from io import StringIO
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from registrations import services
from registrations.audit import Actor
from registrations.models import AuditLog, EventMapping, Payment, Registration, ReviewItem, Status
from registrations.services import add_mapping, apply_booking, apply_payment, recompute_event
from tests.factories import RegistrationFactory

from .builders import booked, paid, pi_succeeded

PG_ONLY = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks and concurrent writers only exist on PostgreSQL"
)
NEW_LINK = "plink_new"  # a payment link nobody has mapped yet


# --- replay after a mapping (77c54f1) -----------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_mapping_a_link_outside_a_request_says_how_many_waiting_payments_it_replayed(event, admin_user):
    """The events file (manage.py import_events) adds its mappings outside any transaction. The
    EventMapping post_save receiver then replays the waiting payment on commit of add_mapping's own
    block, as anonymous system, before add_mapping's own replay runs: the operator is told that
    nothing was replayed and the unmatched card is closed by nobody."""
    apply_payment(paid(1, "pat@example.org", name="Pat Payer", plink=NEW_LINK))
    assert Payment.objects.get().event_id is None

    _, replayed = add_mapping(EventMapping.Kind.STRIPE_PAYMENT_LINK, NEW_LINK, event, Actor.operator(admin_user))

    assert Registration.objects.get(attendee__email="pat@example.org").status == Status.PAID_ONLY
    assert replayed.done == 1
    card = ReviewItem.objects.get(kind=ReviewItem.Kind.UNMATCHED_EVENT)
    assert (card.state, card.resolved_by) == (ReviewItem.State.RESOLVED, admin_user)


@pytest.mark.django_db(transaction=True)
def test_the_events_file_reports_the_waiting_payment_it_replayed(event, tmp_path):
    apply_payment(paid(1, "pat@example.org", name="Pat Payer", plink=NEW_LINK))
    path = tmp_path / "events.json"
    entry = {"slug": event.slug, "name": event.name, "starts_at": event.starts_at.isoformat()}
    path.write_text(json.dumps({"events": [{**entry, "mappings": {"stripe_payment_link": [NEW_LINK]}}]}))
    out = StringIO()
    call_command("import_events", str(path), stdout=out)

    assert Payment.objects.get().event_id == event.pk
    assert "stored signals replayed 1" in out.getvalue()


@pytest.mark.django_db
def test_a_waiting_payment_merged_away_during_the_replay_does_not_stop_the_others(event, monkeypatch):
    """Two rows of one payment wait for the link (the session's and the payment intent's). While
    the replay finishes the first, a webhook joins them and the second row is deleted: the replay
    must go on with the rest and close the unmatched card, as recompute_event does for a
    registration merged away since its list was read."""
    apply_payment(replace(paid(1, "pat@example.org", name="Pat Payer", plink=NEW_LINK), payment_intent_id=""))
    apply_payment(replace(pi_succeeded(1), event_keys=paid(1, plink=NEW_LINK).event_keys))
    apply_payment(paid(2, "sam@example.org", name="Sam Guest", plink=NEW_LINK))
    first, second, third = Payment.objects.order_by("pk")
    assert Payment.objects.filter(event__isnull=True).count() == 3

    real = services._finish_payment
    calls = []

    def finish(payment, *args, **kwargs):
        if not calls:  # the webhook that names both ids commits meanwhile: the second row is folded away
            Payment.objects.filter(pk=second.pk).delete()
        calls.append(payment.pk)
        return real(payment, *args, **kwargs)

    monkeypatch.setattr(services, "_finish_payment", finish)
    # The operator maps the link; its receiver's on-commit replay (which never runs by itself in
    # this test's transaction) runs.
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PAYMENT_LINK, value=NEW_LINK, event=event)
    replayed = services.replay_saved_mapping(EventMapping.Kind.STRIPE_PAYMENT_LINK, NEW_LINK)

    assert Payment.objects.get(pk=third.pk).event_id == event.pk
    assert Registration.objects.get(attendee__email="sam@example.org").status == Status.PAID_ONLY
    assert not ReviewItem.objects.filter(kind=ReviewItem.Kind.UNMATCHED_EVENT, state=ReviewItem.State.OPEN).exists()
    assert replayed.done == 2


# --- merged payment rows (57f9f83) ---------------------------------------------------------------------
@pytest.mark.django_db
def test_the_person_who_lost_a_payment_to_a_merge_sees_why_on_their_own_timeline(event):
    """Two rows of one payment matched to two people; joining them takes the payment from the second
    person (re-derived: pending). The payment.merged row is written on the kept row's registration
    only, so the second person's timeline shows their status dropping with no reason."""
    apply_payment(replace(paid(1, "first@example.org"), payment_intent_id=""))
    apply_payment(replace(pi_succeeded(1), email="second@example.org", event_keys=paid(1).event_keys))
    apply_payment(paid(1, "first@example.org", hours=48))
    second = Registration.objects.get(attendee__email="second@example.org")
    assert second.status == Status.PENDING
    assert AuditLog.objects.filter(action="payment.merged").exists()
    assert AuditLog.objects.filter(action="payment.merged", registration=second).exists()


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


@PG_ONLY
@pytest.mark.django_db(transaction=True)
def test_a_registration_merged_away_while_the_event_is_re_derived_does_not_stop_the_rest(event):
    """An operator accepts a suggested match (the other registration is deleted) while the worker
    re-derives the event: recompute_event reads the registration's status, then waits for its row
    lock, and finds it gone. It must skip it (as it does for one already gone) and go on."""
    apply_booking(booked(1, "first@example.org"))
    apply_booking(booked(2, "gone@example.org", first="Gone", last="Soon"))
    apply_booking(booked(3, "last@example.org", first="Last", last="One"))
    gone = Registration.objects.get(attendee__email="gone@example.org")
    last = Registration.objects.get(attendee__email="last@example.org")
    Registration.objects.filter(pk=last.pk).update(status=Status.PENDING)  # stale: re-derived below

    holding = threading.Event()

    def operator_merges():
        try:
            with transaction.atomic():
                Registration.objects.select_for_update().get(pk=gone.pk)
                Registration.objects.filter(pk=gone.pk).delete()
                holding.set()
                time.sleep(1.0)
        finally:
            holding.set()
            connection.close()

    operator = threading.Thread(target=operator_merges)
    operator.start()
    try:
        assert holding.wait(5)  # deleted, not yet committed: its status still reads as before
        recompute_event(event.pk, "test")
    finally:
        operator.join()
    assert Registration.objects.get(pk=last.pk).status == Status.BOOKED_ONLY


# --- the suggested-match lock (fe5ec43) ----------------------------------------------------------------
@PG_ONLY
@pytest.mark.django_db(transaction=True)
def test_an_operator_marking_someone_paid_is_not_failed_by_a_webhook_for_their_suggested_match(event, monkeypatch):
    """River paid under her work address and booked under her home address: a suggested match is
    open. An operator marks the booking paid by hand (cash at the door) while a webhook for the
    work-address payment is applied. The webhook holds the event's search lock and then wants the
    home registration's row (to refresh the suggestion); the operator holds that row (locked
    first) and waits for the search lock. PostgreSQL breaks the deadlock by failing one of them:
    a webhook is retried, but the operator's action is not, and they get an error page."""
    from registrations import detection
    from registrations.resolutions import mark_paid_manually

    apply_payment(paid(1, "river.work@example.org", name="River Stone"))
    apply_booking(booked(1, "river.home@example.org", first="River", last="Stone"))
    assert ReviewItem.objects.filter(kind=ReviewItem.Kind.SUGGESTED_MATCH, state=ReviewItem.State.OPEN).count() == 1
    home = Registration.objects.get(attendee__email="river.home@example.org")

    webhook_has_lock, operator_waits = threading.Event(), threading.Event()
    real = detection._one_search_at_a_time
    webhook_thread = []

    def search_lock(event_id):
        if threading.current_thread() in webhook_thread:
            real(event_id)
            webhook_has_lock.set()
            operator_waits.wait(5)
            time.sleep(0.3)  # the operator is now waiting for the lock
        else:
            webhook_has_lock.wait(5)
            operator_waits.set()
            real(event_id)

    monkeypatch.setattr(detection, "_one_search_at_a_time", search_lock)
    errors = []

    def webhook():
        try:
            apply_payment(paid(1, "river.work@example.org", name="River Stone", phone="+15550100"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=webhook)
    webhook_thread.append(thread)
    thread.start()
    assert webhook_has_lock.wait(5)  # the webhook holds the search lock before the operator submits
    try:
        mark_paid_manually(home, 12000, Payment.Method.CASH, "paid cash at the door", Actor.system("operator"))
    finally:
        operator_waits.set()
        thread.join()
    assert errors == []
    assert Registration.objects.get(pk=home.pk).status != Status.BOOKED_ONLY
