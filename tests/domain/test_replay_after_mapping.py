"""A booking that waited for its appointment type to be mapped is finished by the apply path's
own step once the operator maps it: a seat link it carries gives its holder the seat."""

import pytest

from registrations.audit import Actor
from registrations.models import EventMapping, Payment, Registration, ReviewItem, SeatReference, Status
from registrations.seats import issue_seat_references
from registrations.services import add_mapping, apply_booking, apply_payment

from .builders import booked, paid

pytestmark = pytest.mark.django_db

NEW_TYPE = "4440999"  # a second appointment type for the same event, not mapped yet


def test_a_booking_with_a_seat_link_for_an_unmapped_type_takes_its_seat_once_the_type_is_mapped(event, admin_user):
    apply_payment(paid(1, "pat@example.org", name="Pat Payer", quantity=2, amount=24000))
    group = Payment.objects.get()
    (seat,) = issue_seat_references(group, Actor.system("handoff"))
    apply_booking(booked(100, "pat@example.org", first="Pat", last="Payer"))

    # Sam books with the seat link, but under an appointment type nobody has mapped yet.
    apply_booking(
        booked(200, "sam@example.org", first="Sam", last="Guest", atype=NEW_TYPE, intake={"r": seat.reference})
    )
    assert not Registration.objects.filter(attendee__email="sam@example.org").exists()
    assert ReviewItem.objects.filter(kind=ReviewItem.Kind.UNMATCHED_EVENT, state=ReviewItem.State.OPEN).exists()

    _, replayed = add_mapping(EventMapping.Kind.ACUITY_APPOINTMENT_TYPE, NEW_TYPE, event, Actor.operator(admin_user))

    assert replayed.done == 1
    sam = Registration.objects.get(attendee__email="sam@example.org")
    assert sam.status == Status.COMPLETE  # the seat Pat paid for
    assert SeatReference.objects.get(pk=seat.pk).registration == sam
    seat_payment = Payment.objects.get(method=Payment.Method.GROUP_SEAT)
    assert (seat_payment.registration, seat_payment.manual_key) == (sam, f"seat:{group.pk}:2")
    # Every seat is booked: the group card is settled.
    card = ReviewItem.objects.get(kind=ReviewItem.Kind.GROUP_PAYMENT)
    assert card.state == ReviewItem.State.RESOLVED
