"""When two stored rows turn out to be one payment, every registration they touched is re-derived."""

from dataclasses import replace

import pytest

from registrations.models import Payment, Registration, Status
from registrations.services import apply_payment

from .builders import paid, pi_succeeded

pytestmark = pytest.mark.django_db


def test_a_bank_debit_that_cleared_on_its_own_row_makes_the_payer_paid_when_the_rows_are_joined(event):
    # The checkout session said "unpaid" (a bank debit) and named no payment intent yet.
    apply_payment(replace(paid(1, "river@example.org", status="unpaid"), payment_intent_id=""))
    assert Registration.objects.get().status == Status.PENDING
    # The payment intent succeeded: its own row (it shares no id with the session's yet).
    apply_payment(pi_succeeded(1))
    assert Payment.objects.count() == 2
    # A later event names both: one payment, paid, and the payer is paid.
    apply_payment(paid(1, "river@example.org", hours=48))
    assert Payment.objects.count() == 1
    assert Registration.objects.get().status == Status.PAID_ONLY


def test_the_registration_of_the_row_folded_away_is_re_derived_too(event):
    # Two rows of one payment, each matched to a different person (contradictory emails).
    apply_payment(replace(paid(1, "first@example.org"), payment_intent_id=""))
    apply_payment(replace(pi_succeeded(1), email="second@example.org", event_keys=paid(1).event_keys))
    second = Registration.objects.get(attendee__email="second@example.org")
    assert second.status == Status.PAID_ONLY
    apply_payment(paid(1, "first@example.org", hours=48))  # names both ids: the rows are one payment
    (payment,) = Payment.objects.all()
    assert payment.registration.attendee.email == "first@example.org"  # the oldest row is kept
    second.refresh_from_db()
    assert second.status == Status.PENDING  # its payment is the first person's now
