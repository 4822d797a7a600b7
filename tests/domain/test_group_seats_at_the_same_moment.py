"""A seat of a group payment is given once even when two ways of giving it run at the same
moment on PostgreSQL: two people booking with one seat link, an operator assigning the seat while
someone books with its link, and the payer opening their payment page (which issues the seat
links) while an operator assigns the seats."""

import threading

import pytest
from django.db import close_old_connections, connection

from registrations.audit import Actor
from registrations.models import Payment, ReviewItem, SeatReference
from registrations.resolutions import ResolutionError, assign_group_seats
from registrations.seats import issue_seat_references
from registrations.services import apply_booking, apply_payment

from .builders import booked, paid

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks only exist on PostgreSQL"),
]

PRICE = 12000


def _together(jobs):
    errors, results = [], [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def run(i, job):
        try:
            barrier.wait()
            results[i] = job()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors, results


def pay_for_two_seats() -> Payment:
    apply_payment(paid(1, "pat@example.org", name="Pat Payer", quantity=2, amount=2 * PRICE))
    apply_booking(booked(100, "pat@example.org", first="Pat", last="Payer"))
    return Payment.objects.get(method=Payment.Method.STRIPE)


def seat_holders() -> list[str]:
    return list(
        Payment.objects.filter(method=Payment.Method.GROUP_SEAT).values_list("registration__attendee__email", flat=True)
    )


def test_four_people_booking_with_one_seat_link_at_once_give_the_seat_once(event):
    group = pay_for_two_seats()
    ref = issue_seat_references(group, Actor.system("handoff"))[0].reference
    jobs = [
        (lambda n=n: apply_booking(booked(200 + n, f"p{n}@example.org", first="P", last=str(n), intake={"ref": ref})))
        for n in range(4)
    ]
    errors, _ = _together(jobs)
    assert errors == []
    [holder] = seat_holders()
    assert SeatReference.objects.get(reference=ref).registration.attendee.email == holder
    group.refresh_from_db()
    assert [s["email"] for s in group.seat_assignments if s["seat"] == 2] == [holder]


def test_an_operator_and_a_seat_link_at_once_give_the_seat_once(event, admin_user):
    group = pay_for_two_seats()
    ref = issue_seat_references(group, Actor.system("handoff"))[0].reference
    item = ReviewItem.objects.get(kind=ReviewItem.Kind.GROUP_PAYMENT)

    def operator():
        try:
            assign_group_seats(item.pk, [{"name": "Nia", "email": "nia@example.org"}], Actor.operator(admin_user))
        except ResolutionError:
            pass  # the link was first: the seat is taken

    def link():
        apply_booking(booked(201, "sam@example.org", first="Sam", last="Guest", intake={"ref": ref}))

    errors, _ = _together([operator, link])
    assert errors == []
    [holder] = seat_holders()
    assert SeatReference.objects.get(reference=ref).registration.attendee.email == holder


@pytest.mark.parametrize("attempt", [1, 2])
def test_the_payer_opening_their_page_while_an_operator_gives_the_seat_shows_that_seat_taken(
    event, admin_user, attempt
):
    group = pay_for_two_seats()  # no seat link issued yet
    item = ReviewItem.objects.get(kind=ReviewItem.Kind.GROUP_PAYMENT)

    def operator():
        assign_group_seats(item.pk, [{"name": "Nia", "email": "nia@example.org"}], Actor.operator(admin_user))

    def page():
        issue_seat_references(group, Actor.system("handoff"))

    errors, _ = _together([operator, page])
    assert errors == []
    # Seat 2 is Nia's: its link on the payer's page is used, so nobody else can book with it.
    assert SeatReference.objects.get(payment=group, seat=2).registration.attendee.email == "nia@example.org"
