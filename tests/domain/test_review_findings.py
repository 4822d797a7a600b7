"""Regression guards from a second reading of the apply path (fd4e548), suggested matches (058a36b,
ab9821b) and merged payment rows (e53d9bc, 5b10b01). Each test names the behaviour a user would notice."""

import random
import threading
import time

import pytest
from django.db import connection
from django.db.models import Q

from registrations import detection
from registrations.identity import names_similar, normalise_name, similar_to
from registrations.models import AuditLog, Booking, Payment, Registration, ReviewItem, Status
from registrations.services import apply_booking, apply_payment

from .builders import booked, paid

PG_ONLY = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks and concurrent writers only exist on PostgreSQL"
)


def open_suggestions():
    return ReviewItem.objects.filter(kind=ReviewItem.Kind.SUGGESTED_MATCH, state=ReviewItem.State.OPEN)


# --- concurrency: a payment and a booking of one person, applied at the same moment ------------------
def _in_detection_together(monkeypatch, parties=2, wait=3.0):
    """Both transactions meet at the start of the suggested-match search (after their facts are
    written, before either commits) when nothing serialises them; if one is held on a lock, the
    other goes on alone after ``wait`` seconds."""
    barrier = threading.Barrier(parties)
    real = detection._detect_suggested_matches

    def meeting(*args, **kwargs):
        try:
            barrier.wait(timeout=wait)
        except threading.BrokenBarrierError:
            pass
        return real(*args, **kwargs)

    monkeypatch.setattr(detection, "_detect_suggested_matches", meeting)


def _run_at_once(*calls):
    errors = []

    def worker(fn, signal):
        try:
            fn(signal)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    pool = [threading.Thread(target=worker, args=call) for call in calls]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return errors


@PG_ONLY
@pytest.mark.django_db(transaction=True)
def test_payment_and_booking_applied_at_the_same_moment_still_suggest_the_match(event, monkeypatch):
    """River pays with her work address while her booking (home address, same name) is applied by
    another worker. Each transaction looks for the other one-sided registration before the other
    has committed; before fd4e548 recompute locked the event's row, so the second waited for the
    first and then saw it. Now nothing serialises them and neither sees the other: no suggestion,
    both stay one-sided for good."""
    _in_detection_together(monkeypatch)
    errors = _run_at_once(
        (apply_payment, paid(1, "river.work@example.org", name="River Stone")),
        (apply_booking, booked(1, "river.home@example.org", first="River", last="Stone")),
    )
    assert errors == []
    assert open_suggestions().count() == 1
    assert set(Registration.objects.values_list("status", flat=True)) == {Status.NEEDS_REVIEW}


@PG_ONLY
@pytest.mark.django_db(transaction=True)
def test_existing_registrations_becoming_one_sided_at_the_same_moment_still_suggest_the_match(event, monkeypatch):
    """The same race for registrations that already existed (FOR UPDATE OF self locks only each
    registration's own row): River's bank debit clears while her booking under another address
    is rebooked after a cancellation."""
    apply_payment(paid(1, "river.work@example.org", name="River Stone", status="unpaid"))
    apply_booking(booked(1, "river.home@example.org", status="cancelled", first="River", last="Stone"))
    assert set(Registration.objects.values_list("status", flat=True)) == {Status.PENDING, Status.CANCELLED}
    _in_detection_together(monkeypatch)
    errors = _run_at_once(
        (apply_payment, paid(1, "river.work@example.org", name="River Stone")),
        (apply_booking, booked(2, "river.home@example.org", first="River", last="Stone", hours=3)),
    )
    assert errors == []
    assert open_suggestions().count() == 1


def _payment_held_after_its_search(monkeypatch, signal, pause: float):
    """Apply ``signal`` in another thread that stops, uncommitted, right after its suggested-match
    search until ``release`` is set (then ``pause`` seconds more). Returns (searched, release,
    finish): ``finish()`` releases it, waits for it and returns its errors."""
    searched, release = threading.Event(), threading.Event()
    real = detection._detect_suggested_matches
    held = []

    def search(*args, **kwargs):
        touched = real(*args, **kwargs)
        if threading.current_thread() in held:
            searched.set()
            release.wait(5)
            time.sleep(pause)
        return touched

    monkeypatch.setattr(detection, "_detect_suggested_matches", search)
    errors = []

    def pay():
        try:
            apply_payment(signal)
        except Exception as exc:  # pragma: no cover - reported by the caller
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=pay)
    held.append(thread)
    thread.start()

    def finish():
        release.set()
        thread.join()
        return errors

    return searched, release, finish


@PG_ONLY
@pytest.mark.django_db(transaction=True)
def test_a_booking_waits_for_a_payment_being_applied_and_then_suggests_the_match(event, monkeypatch):
    """The payment's worker has searched (under the event's search lock) and not yet
    committed when the booking of the same person under another address is applied: the booking
    must wait for that commit, then see the payment and suggest the match."""
    searched, release, finish = _payment_held_after_its_search(
        monkeypatch, paid(1, "river.work@example.org", name="River Stone"), pause=0.5
    )
    try:
        assert searched.wait(5)
        release.set()  # the booking is at the lock within the pause, and must wait for this commit
        apply_booking(booked(1, "river.home@example.org", first="River", last="Stone"))
    finally:
        errors = finish()
    assert errors == []
    assert open_suggestions().count() == 1


@PG_ONLY
@pytest.mark.django_db(transaction=True)
def test_a_suggestion_made_while_the_holders_seat_is_being_paid_does_not_stay_open(event, monkeypatch):
    """River booked with a seat link of Pat's group bank debit (booked, not paid). While a payment
    under River's work address is being applied (it suggests River's booking as the same person),
    Pat's debit clears and pays River's seat. River is then complete: no "same person?" card may
    stay open about her. (With the search lock taken shared by payment-only searches, the debit
    did not wait for the payment and the card stayed open, River in "Needs review".)"""
    from registrations.audit import Actor
    from registrations.seats import issue_seat_references

    debit = dict(name="Pat Payer", quantity=2, amount=24000, hours=0)
    apply_payment(paid(50, "pat.payer@example.org", status="unpaid", **debit))
    ref = issue_seat_references(Payment.objects.get(checkout_session_id="cs_50"), Actor.system("handoff"))[0]
    apply_booking(booked(1, "river.home@example.org", first="River", last="Stone", intake={"ref": ref.reference}))
    holder = Registration.objects.get(attendee__email="river.home@example.org")
    assert holder.status == Status.BOOKED_ONLY

    searched, release, finish = _payment_held_after_its_search(
        monkeypatch, paid(2, "river.work@example.org", name="River Stone", hours=1), pause=0.3
    )
    try:
        assert searched.wait(5)
        timer = threading.Timer(1.0, release.set)  # if the clearing waits for the lock, let the payment commit
        timer.start()
        apply_payment(paid(50, "pat.payer@example.org", status="paid", **debit))  # the debit clears
    finally:
        errors = finish()
    assert errors == []
    holder.refresh_from_db()
    assert holder.status == Status.COMPLETE
    assert not open_suggestions().filter(Q(counterpart=holder) | Q(registration=holder)).exists()


# --- merged payment rows: who did it ------------------------------------------------------------------
@pytest.mark.django_db
def test_a_merge_applied_for_a_stripe_event_is_audited_as_that_event_not_as_anonymous_system(event):
    """Every other audit row of an apply carries its actor (the Stripe event id it came from); the
    rows written while two payment rows are merged (seats re-keyed and re-synced) say only
    ``system``: ``apply_payment`` and ``_payment_for_adjustment`` call ``_merge_payment_rows``
    without the actor, so an operator cannot tell which event moved the seats."""
    from registrations.audit import Actor

    from .test_merged_group_payment_seats import FRIENDS, book_with_seat_links, pay_as_two_rows, session

    _, session_row = pay_as_two_rows()
    book_with_seat_links(session_row)
    actor = Actor.system("evt_session_async_payment_succeeded")
    apply_payment(session(with_payment_intent=True, raw_ref="evt_session_async_payment_succeeded"), actor=actor)

    seat_pks = Payment.objects.filter(method=Payment.Method.GROUP_SEAT).values_list("pk", flat=True)
    rekeyed = AuditLog.objects.filter(
        action="payment.updated", object_id__in=[str(pk) for pk in seat_pks], after__manual_key__isnull=False
    )
    assert rekeyed.count() == len(FRIENDS)
    assert set(rekeyed.values_list("actor_source", flat=True)) == {"evt_session_async_payment_succeeded"}


# --- the deferred INSERT: every new fact is stored, and its audit row names it --------------------------
@pytest.mark.django_db
def test_every_new_payment_and_booking_is_stored_and_its_recorded_row_names_it_whatever_the_branch(event):
    """Unmatched link, ignored link, expired checkout, refund and dispute before the payment, no
    email, a booking with no event: each new fact is inserted and its ``*.recorded`` audit row
    carries its id (regression guard for fd4e548's INSERT after attach)."""
    from dataclasses import replace

    from registrations.models import EventMapping

    from .builders import disputed, refunded

    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PAYMENT_LINK, value="plink_ignored", ignored=True)
    results = [
        apply_payment(paid(1, "a@example.org", plink="plink_unknown")),
        apply_payment(paid(2, "b@example.org", plink="plink_ignored")),
        apply_payment(paid(3, "c@example.org", status="expired")),
        apply_payment(refunded(4, 12000)),
        apply_payment(paid(4, "d@example.org", name="Dana Dee")),
        apply_payment(disputed(5)),
        apply_payment(paid(5, "e@example.org", name="Eli Eve")),
        apply_payment(replace(paid(6, ""), email="")),
        apply_booking(booked(7, "f@example.org", atype="999")),
        apply_booking(booked(8, "")),
        apply_booking(booked(9, "g@example.org", first="Gale", last="Green")),
    ]
    facts = [r.fact for r in results if isinstance(r.fact, Payment | Booking)]
    assert len(facts) == 9
    for fact in facts:
        assert type(fact).objects.filter(pk=fact.pk).exists(), fact
        (row,) = AuditLog.objects.filter(
            action__endswith=".recorded", object_type=type(fact).__name__, object_id=str(fact.pk)
        )
    assert not AuditLog.objects.filter(object_type__in=["Payment", "Booking"], object_id="").exists()
    assert Registration.objects.get(attendee__email="d@example.org").status == Status.REFUNDED
    assert Registration.objects.get(attendee__email="e@example.org").status == Status.NEEDS_REVIEW
    assert Registration.objects.get(attendee__email="g@example.org").status == Status.BOOKED_ONLY
    assert not Registration.objects.filter(attendee__email__in=["a@example.org", "b@example.org", "c@example.org"])


@pytest.mark.django_db
def test_the_registration_handed_back_by_an_apply_carries_no_marks_of_its_transaction(event):
    """``new_in_transaction`` / ``locked_in_transaction`` hold for one transaction only; a caller
    that keeps the instance (handoff, reconcile) and recomputes it later must lock and read again."""
    first = apply_payment(paid(1, "river@example.org"))
    again = apply_booking(booked(1, "river@example.org"))
    walk_in_email = "wanda@example.org"
    apply_booking(booked(2, walk_in_email, first="Wanda", last="Walk"))
    from registrations.audit import Actor
    from registrations.services import enter_walk_in

    walk_in = enter_walk_in(
        event=event, email=walk_in_email, name="Wanda", method="cash", amount=5000, actor=Actor.system("t")
    )
    for reg in (first.registration, again.registration, walk_in):
        assert "new_in_transaction" not in reg.__dict__
        assert "locked_in_transaction" not in reg.__dict__
    assert Registration.objects.get(pk=walk_in.pk).status == Status.COMPLETE


@pytest.mark.django_db(transaction=True)
def test_an_attendee_created_by_someone_else_meanwhile_reruns_the_apply_once_and_records_it_once(event, monkeypatch):
    """The lost race of ``retried_on_conflict``: the lookup says nobody has the address, the
    INSERT then fails on it (another worker committed it in between); the transaction runs again
    and attaches the payment to that attendee, with one set of audit rows."""
    from registrations import matching

    apply_booking(booked(1, "river@example.org"))
    real, calls = matching.find_attendee, []

    def stale_once(email):
        calls.append(email)
        return None if len(calls) == 1 else real(email)

    monkeypatch.setattr(matching, "find_attendee", stale_once)
    result = apply_payment(paid(1, "river@example.org"))
    assert len(calls) >= 2
    assert Registration.objects.count() == 1 and Payment.objects.count() == 1
    assert result.registration.status == Status.COMPLETE
    assert AuditLog.objects.filter(action="payment.recorded").count() == 1
    assert AuditLog.objects.filter(action="attendee.created").count() == 1  # the booking's only


# --- names_similar / similar_to (058a36b) ---------------------------------------------------------------
def _old_names_similar(a, b, threshold=0.88):
    import difflib

    na, nb = normalise_name(a), normalise_name(b)
    if not na or not nb:
        return False
    if na == nb:
        return True
    return difflib.SequenceMatcher(None, *sorted((na, nb))).ratio() >= threshold


def test_similar_to_answers_like_the_full_comparison_and_the_same_from_both_sides():
    """The cheap bounds only rule out pairs the full ratio would reject, and a pair gets one
    answer whichever registration asks (regression guard)."""
    rng = random.Random(20261123)
    first = ["River", "Rivers", "Ann", "Anne", "Jo", "Joanna", "Siobhán", "Zoë", "Li", "Mary-Kate", "O'Neil", "Renée"]
    last = ["Stone", "Stoner", "Smith", "Smyth", "Nguyen", "Ng", "García", "Garcia", "Lee", "de la Cruz", "Oneil"]
    names = ["", "  ", "R.", "x" * 150, "y" * 199 + "z"]
    for _ in range(300):
        name = f"{rng.choice(first)} {rng.choice(last)}"
        if rng.random() < 0.5:  # a typo
            i = rng.randrange(len(name))
            name = name[:i] + rng.choice("aeiou ") + name[i + 1 :]
        names.append(name)
    for a in names[:80]:
        similar = similar_to(a)
        for b in names:
            expected = _old_names_similar(a, b)
            assert similar(b) == expected, (a, b)
            assert names_similar(b, a) == expected, (b, a)
