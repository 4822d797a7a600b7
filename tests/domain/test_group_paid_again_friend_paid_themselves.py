"""Pat's group bank debit failed after Sam booked with its seat link; Sam, reminded to pay, paid
for himself; then Pat paid again for all the seats. Pat's new payment must not take over Sam's
seat: Sam would be paid for twice (his own payment and a seat of Pat's) with nothing open for
the operator to see. Sam keeps his own payment, and Pat's seat for him stays free on the new
payment's group card for the operator to settle (refund one seat, or give it to someone)."""

import pytest

from registrations.audit import Actor
from registrations.models import Payment, ReviewItem, SeatReference, Status
from registrations.seats import issue_seat_references
from registrations.services import apply_booking, apply_payment

from .builders import booked, paid
from .test_group_paid_again_after_failing import (
    ALEX,
    PAYER,
    SAM,
    again,
    debit,
    first_group,
    reg_of,
    second_group,
    setup_debit_and_friends,
)

pytestmark = pytest.mark.django_db


def test_a_friend_who_paid_for_themselves_after_the_failure_is_not_paid_for_twice_by_the_payers_new_payment(event):
    setup_debit_and_friends()
    apply_payment(debit("failed"))
    apply_payment(paid(9, SAM, name="Sam Guest", hours=10))
    assert reg_of(SAM).status == Status.COMPLETE

    apply_payment(again(quantity=3, status="paid"))

    sam = reg_of(SAM)
    live = [p for p in sam.payments.all() if p.is_paid and not p.fully_refunded]
    assert [p.checkout_session_id for p in live] == ["cs_9"]
    assert sam.payments.get(method=Payment.Method.GROUP_SEAT).manual_key == f"seat:{first_group().pk}:2"
    assert sam.status == Status.COMPLETE
    # Alex had not paid: Alex's seat is taken over as usual.
    assert reg_of(ALEX).payments.get().manual_key == f"seat:{second_group().pk}:3"
    # The seat Pat paid for and nobody holds is in front of the operator.
    card = ReviewItem.objects.get(key=f"group:{second_group().pk}")
    assert card.state == ReviewItem.State.OPEN


def test_the_payers_own_extra_seat_booked_with_a_link_of_the_failed_payment_still_moves_to_the_new_payment(event):
    """The payer's own new payment is no 'payment of their own' that keeps their seat behind."""
    apply_payment(debit())
    refs = issue_seat_references(first_group(), Actor.system("handoff"))
    apply_booking(booked(300, PAYER, first="Pat", last="Payer", intake={"ref": refs[0].reference}))
    apply_payment(debit("failed"))

    apply_payment(again(quantity=3))

    assert SeatReference.objects.get(seat=2, registration=reg_of(PAYER)).payment == second_group()
