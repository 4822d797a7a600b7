"""--dry-run changes nothing (no facts, registrations, attendees, review items or audit rows)
and prints what a real run would change."""

from integrations.models import ReconcileRun
from registrations.models import Attendee, AuditLog, Booking, Payment, Refund, Registration, ReviewItem

from .conftest import day, run_command

MODELS = (Attendee, AuditLog, Booking, Payment, Refund, Registration, ReviewItem)


def _rows():
    return {m.__name__: m.objects.count() for m in MODELS}


def test_dry_run_writes_nothing_and_says_what_it_would_change(event, providers):
    stripe, acuity = providers
    known = stripe.add_session(email="known@example.org")
    appt = acuity.add_appointment(email="known@example.org", starts_at=day(20))
    run_command()
    stripe.add_session(email="new@example.org")
    stripe.refund(known)
    acuity.cancel(appt)
    acuity.add_appointment(email="new@example.org", starts_at=day(20))
    before = _rows()

    result = run_command("--dry-run")

    assert _rows() == before
    assert not Booking.objects.get().cancelled
    assert Payment.objects.get().amount_refunded == 0
    assert result.run.dry_run and result.run.status == ReconcileRun.Status.OK
    # the counts are those a real run would report
    assert result.counts(provider="stripe") == {"seen": 3, "known": 1, "new": 1, "changed": 1, "errors": 0}
    assert result.counts(provider="acuity") == {"seen": 2, "known": 0, "new": 1, "changed": 1, "errors": 0}
    assert "would add" in result.out and "new@example.org" in result.out
    assert "would change" in result.out and "cancelled" in result.out
    assert "dry run: nothing was changed" in result.out

    real = run_command()
    assert real.run.counts == result.run.counts


def test_dry_run_of_an_empty_database_leaves_it_empty(event, providers):
    stripe, acuity = providers
    for i in range(5):
        session = stripe.add_session(email=f"p{i}@example.org")
        acuity.add_appointment(email=f"p{i}@example.org", starts_at=day(20))
    stripe.refund(session)

    result = run_command("--dry-run")

    assert all(n == 0 for n in _rows().values())
    assert result.counts(provider="stripe") == {"seen": 6, "known": 0, "new": 5, "changed": 1, "errors": 0}
