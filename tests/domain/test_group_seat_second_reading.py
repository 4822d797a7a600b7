"""A second reading of group payments (one payment for several seats): a seat is given once,
whichever way (an operator on the queue card, or a seat's own booking link) and in whichever
order. See registrations/seats.py and resolutions.assign_group_seats."""

import pytest

from registrations.audit import Actor
from registrations.models import Payment, Registration, ReviewItem, SeatReference, Status
from registrations.resolutions import assign_group_seats
from registrations.seats import issue_seat_references
from registrations.services import apply_booking, apply_payment

from .builders import booked, paid

pytestmark = pytest.mark.django_db

PRICE = 12000
PAYER = "pat.payer@example.org"


def reg_of(email) -> Registration:
    return Registration.objects.get(attendee__email=email)


def group_payment() -> Payment:
    return Payment.objects.get(method=Payment.Method.STRIPE)


def test_a_seat_an_operator_gave_before_the_payer_opened_the_page_is_shown_taken_and_cannot_be_booked_again(
    event, admin_user
):
    apply_payment(paid(1, PAYER, name="Pat Payer", quantity=3, amount=3 * PRICE))
    apply_booking(booked(100, PAYER, first="Pat", last="Payer"))
    item = ReviewItem.objects.get(kind=ReviewItem.Kind.GROUP_PAYMENT)
    # The operator gives both extra seats before the payer (re)opens their payment page.
    assign_group_seats(
        item.pk,
        [{"name": "Nia Named", "email": "nia.named@example.org"}, {"name": "Ola Other", "email": "ola@example.org"}],
        Actor.operator(admin_user),
    )
    refs = issue_seat_references(group_payment(), Actor.system("handoff"))
    # The page shows both seats as taken...
    assert [r.registration_id is not None for r in refs] == [True, True]
    # ...and someone booking with seat 2's link anyway does not take Nia's seat.
    ref2 = SeatReference.objects.get(payment=group_payment(), seat=2)
    apply_booking(booked(202, "late.comer@example.org", first="Late", last="Comer", intake={"ref": ref2.reference}))
    ref2.refresh_from_db()
    assert ref2.registration == reg_of("nia.named@example.org")
    assert reg_of("late.comer@example.org").status == Status.BOOKED_ONLY
    summary = {s["seat"]: s["email"] for s in group_payment().seat_assignments}
    assert summary[2] == "nia.named@example.org"
