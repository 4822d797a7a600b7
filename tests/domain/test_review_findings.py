"""Regression guards from a second reading of the apply path (fd4e548), suggested matches (058a36b,
ab9821b) and merged payment rows (e53d9bc, 5b10b01). Each test names the behaviour a user would notice."""

import random

import pytest

from registrations.identity import names_similar, normalise_name, similar_to
from registrations.models import AuditLog, Booking, Payment, Registration, Status
from registrations.services import apply_booking, apply_payment

from .builders import booked, paid


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
