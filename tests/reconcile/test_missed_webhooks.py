"""Payments and bookings whose webhooks never came are found by reconciliation and applied
through the same functions as webhooks; a second run changes nothing."""

from integrations.parsing import appointment_to_signal, session_to_signal
from registrations.models import AuditLog, Booking, Payment, Registration, Source, Status
from registrations.services import apply_booking, apply_payment

from .conftest import day, run_command


def test_payment_and_booking_whose_webhooks_never_came_are_found_and_matched(event, providers):
    stripe, acuity = providers
    stripe.add_session(email="River.Stone@example.org", quantity=1)
    acuity.add_appointment(email="river.stone@example.org", starts_at=day(20))

    result = run_command("--since", "3d")

    reg = Registration.objects.get(event=event)
    assert reg.attendee.email == "river.stone@example.org"
    assert reg.status == Status.COMPLETE
    assert reg.source == Source.RECONCILIATION
    payment, booking = Payment.objects.get(), Booking.objects.get()
    assert payment.source == Source.RECONCILIATION and payment.quantity == 1
    assert booking.source == Source.RECONCILIATION
    assert f"reconcile:{result.run.pk}" in payment.raw_refs
    actors = set(AuditLog.objects.values_list("actor_source", flat=True))
    assert actors == {f"reconcile:{result.run.pk}"}
    assert result.run.status == "ok" and result.run.kind == "reconcile" and result.run.finished_at
    assert result.counts(provider="stripe") == {"seen": 1, "known": 0, "new": 1, "changed": 0, "errors": 0}
    assert result.counts(provider="acuity") == {"seen": 1, "known": 0, "new": 1, "changed": 0, "errors": 0}


def test_a_second_run_changes_nothing_and_writes_no_audit_rows(event, providers):
    stripe, acuity = providers
    for i in range(3):
        stripe.add_session(email=f"p{i}@example.org")
        acuity.add_appointment(email=f"p{i}@example.org", starts_at=day(20))
    run_command()
    audit_rows = AuditLog.objects.count()
    snapshot = _facts()

    second = run_command()

    assert AuditLog.objects.count() == audit_rows
    assert _facts() == snapshot
    assert second.counts(provider="stripe") == {"seen": 3, "known": 3, "new": 0, "changed": 0, "errors": 0}
    assert second.counts(provider="acuity") == {"seen": 3, "known": 3, "new": 0, "changed": 0, "errors": 0}


def _facts():
    payments = list(Payment.objects.order_by("pk").values())
    bookings = list(Booking.objects.order_by("pk").values("pk", "cancelled", "starts_at", "registration_id"))
    return payments, bookings


def test_records_the_webhooks_already_delivered_count_as_known(event, providers):
    stripe, acuity = providers
    session = stripe.add_session(email="a@example.org")
    appt = acuity.add_appointment(email="a@example.org", starts_at=day(20))
    # The webhooks did arrive for these two (same parsers, same apply functions):
    apply_payment(session_to_signal(session, line_items=stripe.line_items[session["id"]], raw_ref="evt_1"))
    apply_booking(appointment_to_signal(appt, action="scheduled", raw_ref="acuity_1"))
    stripe.add_session(email="b@example.org")  # this one's webhook was missed

    result = run_command()

    assert result.counts(provider="stripe") == {"seen": 2, "known": 1, "new": 1, "changed": 0, "errors": 0}
    assert result.counts(provider="acuity") == {"seen": 1, "known": 1, "new": 0, "changed": 0, "errors": 0}
    assert Registration.objects.get(attendee__email="b@example.org").status == Status.PAID_ONLY


def test_report_counts_are_exact_for_a_mix_of_known_new_and_changed(event, providers):
    stripe, acuity = providers
    known = [stripe.add_session(email=f"k{i}@example.org") for i in range(3)]
    appts = [acuity.add_appointment(email=f"k{i}@example.org", starts_at=day(20)) for i in range(3)]
    run_command()
    stripe.add_session(email="new1@example.org")
    stripe.add_session(email="new2@example.org")
    stripe.refund(known[0])  # a refund made in the dashboard: the session is known, the refund is a change
    acuity.add_appointment(email="new1@example.org", starts_at=day(20))
    acuity.cancel(appts[1])
    acuity.reschedule(appts[2], day(21))

    result = run_command()

    assert result.counts(provider="stripe") == {"seen": 6, "known": 3, "new": 2, "changed": 1, "errors": 0}
    assert result.counts(provider="acuity") == {"seen": 4, "known": 1, "new": 1, "changed": 2, "errors": 0}
    assert "spring-retreat  stripe" in result.out and "total" in result.out


def test_unpaid_completed_sessions_do_not_count_as_paid(event, providers):
    stripe, _ = providers
    stripe.add_session(email="bank@example.org", payment_status="unpaid")  # a bank debit still pending
    stripe.add_session(email="open@example.org", status="open", payment_status="unpaid")  # still on checkout

    result = run_command("--provider", "stripe")

    assert Payment.objects.get().state == Payment.State.UNPAID
    assert Registration.objects.get().status == Status.PENDING
    assert result.counts(provider="stripe")["seen"] == 1


def test_sessions_older_than_the_window_are_left_to_backfill(event, providers):
    import time

    stripe, _ = providers
    stripe.add_session(email="old@example.org", created=int(time.time()) - 10 * 86400)

    result = run_command("--since", "3d", "--provider", "stripe")

    assert result.counts(provider="stripe")["seen"] == 0
    assert not Payment.objects.exists()


def test_a_bank_debit_that_cleared_after_the_window_began_is_found_though_its_session_is_older(event, providers):
    """A bank debit completes unpaid on the day of the checkout and clears days later (ACH: up to
    4 business days). Its session is older than the nightly window, so the session listing never
    shows it again: when the ``async_payment_succeeded`` webhook was missed, the payment stays
    "awaiting funds" for good unless the run asks about it."""
    import time

    stripe, _ = providers
    session = stripe.add_session(
        email="bank@example.org", payment_status="unpaid", created=int(time.time()) - 6 * 86400
    )
    apply_payment(session_to_signal(session, event_type="checkout.session.completed"), source=Source.WEBHOOK)
    assert Payment.objects.get().state == Payment.State.UNPAID
    session["payment_status"] = "paid"  # cleared; the webhook saying so never came

    result = run_command("--since", "3d", "--provider", "stripe")

    assert Payment.objects.get().state == Payment.State.PAID
    assert result.counts(provider="stripe")["changed"] == 1

    again = run_command("--since", "3d", "--provider", "stripe")
    assert again.counts(provider="stripe")["changed"] == 0
    assert stripe.count("GET", r"^/v1/checkout/sessions/cs_") == 1  # a paid payment is not asked about again


def test_a_bank_debit_found_cleared_by_the_run_after_the_attendee_paid_again_asks_for_a_refund(event, providers):
    """The debit's ``async_payment_succeeded`` webhook was missed; meanwhile the attendee paid again
    by card. The run finds the debit paid: it cleared by then at the latest, so the operator gets
    the duplicate-payment card the webhook would have opened."""
    import time

    from registrations.models import ReviewItem

    stripe, _ = providers
    now = int(time.time())
    debit = stripe.add_session(email="bank@example.org", payment_status="unpaid", created=now - 60 * 3600)
    # Two days later: beyond the 24-hour rule, which would pair them anyway.
    card = stripe.add_session(email="bank@example.org", payment_status="paid", amount=12500, created=now - 12 * 3600)
    for session in (debit, card):
        apply_payment(session_to_signal(session, event_type="checkout.session.completed"), source=Source.WEBHOOK)
    debit["payment_status"] = "paid"  # cleared; the webhook saying so never came

    run_command("--since", "3d", "--provider", "stripe", expect_ok=False)

    debit_row = Payment.objects.get(checkout_session_id=debit["id"])
    assert debit_row.state == Payment.State.PAID and debit_row.cleared_at is not None
    [card_item] = ReviewItem.objects.filter(kind=ReviewItem.Kind.DUPLICATE_PAYMENT, state=ReviewItem.State.OPEN)
    assert card_item.payment_id == debit_row.pk
    assert Registration.objects.get().status == Status.NEEDS_REVIEW
