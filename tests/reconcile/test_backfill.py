"""An event mapped after sales began: backfill pulls its whole history through the same
machinery (no --since limit for Stripe; Acuity from the earliest sensible date)."""

import time

from integrations.models import ReconcileRun
from registrations.models import Booking, EventMapping, Payment, Registration, Status
from tests.factories import EventFactory

from .conftest import day, run_command


def test_backfill_pulls_an_events_whole_history(event, providers):
    stripe, acuity = providers
    long_ago = int(time.time()) - 200 * 86400
    old = stripe.add_session(email="early@example.org", created=long_ago)
    stripe.refund(old, amount=3000)
    acuity.add_appointment(email="early@example.org", starts_at=day(-150))  # a past session of the event
    acuity.add_appointment(email="late@example.org", starts_at=day(30))

    assert run_command().counts(provider="stripe")["seen"] == 0  # outside the nightly window
    stripe.reset_requests()
    acuity.reset_requests()

    result = run_command("--event", "spring-retreat", name="backfill")

    assert result.run.kind == "backfill" and result.run.options["since"] is None
    assert Payment.objects.get().amount_refunded == 3000
    assert Booking.objects.count() == 2
    assert Registration.objects.get(attendee__email="early@example.org").status == Status.COMPLETE
    assert result.counts(provider="stripe") == {"seen": 2, "known": 0, "new": 1, "changed": 1, "errors": 0}
    assert result.counts(provider="acuity") == {"seen": 2, "known": 1, "new": 1, "changed": 0, "errors": 0}
    listing = next(r for r in stripe.requests if r.path == "/v1/checkout/sessions")
    assert not any(k.startswith("created") for k in listing.query)
    [appointments] = [r for r in acuity.requests if r.path.endswith("/appointments")]
    assert appointments.query["minDate"] == "2006-01-01"


def test_backfill_touches_only_the_event_asked_for(event, providers):
    stripe, _ = providers
    other = EventFactory(slug="autumn-retreat")
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PAYMENT_LINK, value="plink_autumn", event=other)
    stripe.add_session(email="a@example.org", payment_link="plink_autumn", created=int(time.time()) - 90 * 86400)
    stripe.add_session(email="s@example.org", created=int(time.time()) - 90 * 86400)

    result = run_command("--event", "autumn-retreat", "--provider", "stripe", name="backfill")

    assert list(Payment.objects.values_list("email", flat=True)) == ["a@example.org"]
    assert set(result.run.counts) == {"autumn-retreat"}


def test_backfill_dry_run_changes_nothing(event, providers):
    stripe, _ = providers
    stripe.add_session(email="early@example.org", created=int(time.time()) - 90 * 86400)

    result = run_command("--event", "spring-retreat", "--dry-run", name="backfill")

    assert not Payment.objects.exists()
    assert result.run.dry_run and result.run.status == ReconcileRun.Status.OK
    assert "would add" in result.out


def test_backfill_requires_an_event(db):
    import pytest
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--event"):
        call_command("backfill")
