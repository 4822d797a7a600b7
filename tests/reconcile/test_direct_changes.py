"""Refunds made in the Stripe dashboard and cancellations/reschedules made in Acuity, whose
webhooks never came, are picked up by reconciliation."""

import time

from registrations.models import Booking, Payment, Refund, Registration, ReviewItem, Status

from .conftest import day, run_command


def test_a_refund_made_in_the_stripe_dashboard_is_picked_up(event, providers):
    stripe, acuity = providers
    session = stripe.add_session(email="river@example.org", amount=12000)
    acuity.add_appointment(email="river@example.org", starts_at=day(20))
    run_command()
    assert Registration.objects.get().status == Status.COMPLETE

    stripe.refund(session)
    result = run_command()

    payment = Payment.objects.get()
    assert payment.amount_refunded == 12000
    assert Registration.objects.get().status == Status.REFUNDED
    assert Refund.objects.get().refund_id.startswith("re_")
    assert result.counts(provider="stripe") == {"seen": 2, "known": 1, "new": 0, "changed": 1, "errors": 0}


def test_a_partial_refund_moves_the_refunded_total_only(event, providers):
    stripe, _ = providers
    session = stripe.add_session(email="river@example.org", amount=12000)
    run_command("--provider", "stripe")
    stripe.refund(session, amount=2000)

    run_command("--provider", "stripe")

    assert Payment.objects.get().amount_refunded == 2000
    assert Registration.objects.get().status == Status.PAID_ONLY


def test_a_recent_refund_of_an_older_payment_is_found(event, providers):
    stripe, _ = providers
    session = stripe.add_session(email="old@example.org", created=int(time.time()) - 20 * 86400)
    run_command("--since", "30d", "--provider", "stripe")
    stripe.refund(session)

    result = run_command("--since", "3d", "--provider", "stripe")

    assert Payment.objects.get().amount_refunded == 12000
    assert result.counts(provider="stripe") == {"seen": 1, "known": 0, "new": 0, "changed": 1, "errors": 0}


def test_refunds_of_payments_that_are_not_ours_are_left_alone(event, providers):
    stripe, _ = providers
    other = stripe.add_session(email="shop@example.org", payment_link="plink_someone_else")
    stripe.refund(other)

    result = run_command("--provider", "stripe")

    assert not Refund.objects.exists() and not Payment.objects.exists()
    assert result.counts(provider="stripe")["seen"] == 0


def test_a_cancellation_made_in_acuity_is_picked_up(event, providers):
    stripe, acuity = providers
    stripe.add_session(email="river@example.org")
    appt = acuity.add_appointment(email="river@example.org", starts_at=day(20))
    run_command()
    acuity.cancel(appt)

    result = run_command()

    assert Booking.objects.get().cancelled
    reg = Registration.objects.get()
    # paid, then cancelled: an operator decides between a refund and a credit
    assert ReviewItem.objects.filter(registration=reg, kind=ReviewItem.Kind.PAID_CANCELLED).exists()
    assert reg.status == Status.NEEDS_REVIEW
    assert result.counts(provider="acuity") == {"seen": 1, "known": 0, "new": 0, "changed": 1, "errors": 0}
    assert "change" in result.out or result.run.counts  # the report is printed


def test_a_cancelled_appointment_never_heard_of_is_recorded_as_cancelled(event, providers):
    _, acuity = providers
    acuity.add_appointment(email="gone@example.org", starts_at=day(20), canceled=True)

    result = run_command("--provider", "acuity")

    assert Booking.objects.get().cancelled
    assert Registration.objects.get().status == Status.CANCELLED
    assert result.counts(provider="acuity")["new"] == 1


def test_a_reschedule_made_in_acuity_moves_the_booking(event, providers):
    _, acuity = providers
    appt = acuity.add_appointment(email="river@example.org", starts_at=day(20))
    run_command("--provider", "acuity")
    acuity.reschedule(appt, day(27, hour=14))

    run_command("--provider", "acuity")

    booking = Booking.objects.get()
    assert booking.starts_at == day(27, hour=14)
    assert booking.times_rescheduled == 1
