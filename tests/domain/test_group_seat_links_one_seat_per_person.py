"""One person holds one seat of a group payment, whichever way the seats are handed out: the
operator cannot give one person two seats, and neither can two seat links booked with the same
email. The second booking is kept (it is a real appointment), its seat stays free for whoever it
was meant for, and the group card says so. See registrations/seats.py."""

import pytest

from registrations.audit import Actor
from registrations.models import AuditLog, Payment, Registration, ReviewItem, SeatReference, Status
from registrations.resolutions import assign_group_seats
from registrations.seats import issue_seat_references
from registrations.services import apply_booking, apply_payment

from .builders import booked, paid

pytestmark = pytest.mark.django_db

PRICE = 12000
PAYER = "pat.payer@example.org"
SAM = "sam.guest@example.org"


def reg_of(email) -> Registration:
    return Registration.objects.get(attendee__email=email)


def group_payment() -> Payment:
    return Payment.objects.get(method=Payment.Method.STRIPE)


def link(seat: int) -> str:
    return SeatReference.objects.get(payment=group_payment(), seat=seat).reference


def seats_held_by(email) -> list[str]:
    return list(
        Payment.objects.filter(method=Payment.Method.GROUP_SEAT, registration__attendee__email=email).values_list(
            "manual_key", flat=True
        )
    )


def pat_pays_three_seats():
    apply_payment(paid(1, PAYER, name="Pat Payer", quantity=3, amount=3 * PRICE))
    apply_booking(booked(100, PAYER, first="Pat", last="Payer"))
    issue_seat_references(group_payment(), Actor.system("handoff"))


def test_one_email_booking_two_seat_links_holds_one_seat_and_the_group_card_says_so(event, admin_user):
    pat_pays_three_seats()
    apply_booking(booked(202, SAM, first="Sam", last="Guest", intake={"ref": link(2)}))
    apply_booking(booked(203, SAM, first="Sam", last="Guest", start_day=11, intake={"ref": link(3)}))

    # Sam holds seat 2 only; seat 3's link is still free for whoever it was meant for.
    assert seats_held_by(SAM) == [f"seat:{group_payment().pk}:2"]
    assert SeatReference.objects.get(payment=group_payment(), seat=3).registration is None
    assert [s["seat"] for s in group_payment().seat_assignments] == [2]
    # The second booking is kept on Sam's registration.
    assert reg_of(SAM).bookings.count() == 2
    assert reg_of(SAM).status == Status.COMPLETE
    # The group card stays open and says what happened; Sam's timeline has it too.
    card = ReviewItem.objects.get(kind=ReviewItem.Kind.GROUP_PAYMENT)
    assert card.state == ReviewItem.State.OPEN
    assert SAM in card.explanation and "seat 3" in card.explanation
    (row,) = AuditLog.objects.filter(action="registration.seat_declined", registration=reg_of(SAM))
    assert row.after["seat"] == 3 and row.after["holds"] == 2

    # Told again (a redelivery), nothing more is written.
    apply_booking(booked(203, SAM, first="Sam", last="Guest", start_day=11, intake={"ref": link(3)}))
    assert AuditLog.objects.filter(action="registration.seat_declined").count() == 1
    assert seats_held_by(SAM) == [f"seat:{group_payment().pk}:2"]

    # The operator can still give seat 3 to the person Sam booked it for.
    card = ReviewItem.objects.get(kind=ReviewItem.Kind.GROUP_PAYMENT)
    assign_group_seats(card.pk, [{"name": "Kim Kid", "email": "kim@example.org"}], Actor.operator(admin_user))
    assert seats_held_by("kim@example.org") == [f"seat:{group_payment().pk}:3"]


def test_someone_an_operator_gave_a_seat_booking_with_another_seat_link_gets_no_second_seat(event, admin_user):
    pat_pays_three_seats()
    card = ReviewItem.objects.get(kind=ReviewItem.Kind.GROUP_PAYMENT)
    assign_group_seats(card.pk, [{"name": "Sam Guest", "email": SAM}], Actor.operator(admin_user))

    apply_booking(booked(203, SAM, first="Sam", last="Guest", intake={"ref": link(3)}))

    assert seats_held_by(SAM) == [f"seat:{group_payment().pk}:2"]
    assert SeatReference.objects.get(payment=group_payment(), seat=3).registration is None
    assert AuditLog.objects.filter(action="registration.seat_declined", registration=reg_of(SAM)).count() == 1
