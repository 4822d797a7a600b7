"""A group bank debit (Pat pays for three seats, friends book with the seat links) fails, and Pat
pays again for at least as many seats, as the "didn't go through" page asks. The friends who
already booked with the first payment's links must not stay unpaid (and be reminded to pay) while
Pat's new payment pays for their seats: the new payment takes over the failed payment's seats
that were booked, with a history line on each friend's timeline, whatever order Stripe's
messages arrive in and however often they are redelivered. Nothing is taken over by a payment of
fewer seats, by someone else's payment, or while the new payment has not cleared."""

from itertools import permutations

import pytest

from registrations.audit import Actor
from registrations.models import AuditLog, Payment, Registration, ReviewItem, SeatReference, Status
from registrations.seats import issue_seat_references
from registrations.services import apply_booking, apply_payment

from .builders import booked, paid

pytestmark = pytest.mark.django_db

PRICE = 12000
PAYER = "pat.payer@example.org"
SAM, ALEX = "sam.guest@example.org", "alex.other@example.org"
HANDOFF = Actor.system("handoff")


def reg_of(email) -> Registration:
    return Registration.objects.get(attendee__email=email)


def debit(status="unpaid", *, quantity=3):
    return paid(1, PAYER, name="Pat Payer", quantity=quantity, amount=quantity * PRICE, status=status, hours=0)


def again(*, quantity=3, status="paid", email=PAYER):
    return paid(2, email, name="Pat Payer", quantity=quantity, amount=quantity * PRICE, status=status, hours=30)


def first_group() -> Payment:
    return Payment.objects.get(checkout_session_id="cs_1")


def second_group() -> Payment:
    return Payment.objects.get(checkout_session_id="cs_2")


def book_with_first_links(emails=(SAM,)):
    """Friends book with the seat links of the first (debit) payment, seats 2, 3, …"""
    refs = issue_seat_references(first_group(), HANDOFF)
    for n, (ref, email) in enumerate(zip(refs, emails, strict=False)):
        apply_booking(booked(200 + n, email, first=email.split(".")[0].title(), intake={"ref": ref.reference}))


def setup_debit_and_friends():
    apply_payment(debit())
    apply_booking(booked(100, PAYER, first="Pat", last="Payer"))
    book_with_first_links((SAM, ALEX))
    assert reg_of(SAM).status == Status.BOOKED_ONLY  # the debit has not cleared yet


def assert_friends_hold_seats_of_the_new_payment():
    new = second_group()
    for email, seat in ((SAM, 2), (ALEX, 3)):
        reg = reg_of(email)
        assert reg.status == Status.COMPLETE, email
        seat_payment = reg.payments.get()
        assert seat_payment.method == Payment.Method.GROUP_SEAT
        assert seat_payment.manual_key == f"seat:{new.pk}:{seat}" and seat_payment.state == Payment.State.PAID
    assert {s["seat"] for s in new.seat_assignments} == {2, 3}
    # Every seat of the new payment is booked (Pat's too): its group card is settled.
    card = ReviewItem.objects.get(key=f"group:{new.pk}")
    assert card.state == ReviewItem.State.RESOLVED
    assert reg_of(PAYER).status == Status.COMPLETE


def test_friends_who_booked_with_a_failed_group_debit_are_paid_by_the_payers_new_payment_for_as_many_seats(event):
    setup_debit_and_friends()
    apply_payment(debit("failed"))
    assert reg_of(SAM).status == Status.BOOKED_ONLY

    apply_payment(again(quantity=3, status="paid"))

    assert_friends_hold_seats_of_the_new_payment()
    row = AuditLog.objects.filter(registration=reg_of(SAM), action="payment.updated").latest("pk")
    assert "paid again" in row.after["because"] and "cs_1" in row.after["because"]


@pytest.mark.parametrize("order", list(permutations(["failed", "paid again"])), ids=" then ".join)
def test_takeover_does_not_depend_on_the_order_of_stripes_messages_nor_on_redeliveries(event, order):
    signals = {"failed": debit("failed"), "paid again": again(quantity=3)}
    setup_debit_and_friends()
    for name in order:
        apply_payment(signals[name])
    assert_friends_hold_seats_of_the_new_payment()
    rows = AuditLog.objects.count()

    for name in (*order, *reversed(order)):  # redeliveries (webhook retries, reconciliation re-runs)
        apply_payment(signals[name])

    assert_friends_hold_seats_of_the_new_payment()
    assert AuditLog.objects.count() == rows


def test_a_friend_who_books_with_the_failed_payments_link_after_the_payer_paid_again_gets_a_paid_seat(event):
    apply_payment(debit())
    apply_booking(booked(100, PAYER, first="Pat", last="Payer"))
    book_with_first_links((SAM,))
    refs = {r.seat: r.reference for r in SeatReference.objects.filter(payment=first_group())}
    apply_payment(debit("failed"))
    apply_payment(again(quantity=3))
    issue_seat_references(second_group(), HANDOFF)  # the payer sees the new payment's page

    apply_booking(booked(201, ALEX, first="Alex", intake={"ref": refs[3]}))

    assert_friends_hold_seats_of_the_new_payment()


def test_a_new_payment_for_fewer_seats_takes_nothing_over(event):
    setup_debit_and_friends()
    apply_payment(debit("failed"))

    apply_payment(again(quantity=2))

    assert reg_of(SAM).status == Status.BOOKED_ONLY
    assert reg_of(SAM).payments.get().manual_key == f"seat:{first_group().pk}:2"


def test_a_new_payment_still_clearing_takes_nothing_over_until_it_clears(event):
    setup_debit_and_friends()
    apply_payment(debit("failed"))

    apply_payment(again(quantity=3, status="unpaid"))
    assert reg_of(SAM).payments.get().manual_key == f"seat:{first_group().pk}:2"

    apply_payment(again(quantity=3, status="paid"))
    assert_friends_hold_seats_of_the_new_payment()


def test_someone_elses_payment_takes_nothing_over(event):
    setup_debit_and_friends()
    apply_payment(debit("failed"))

    apply_payment(again(quantity=3, email="someone.else@example.org"))

    assert reg_of(SAM).status == Status.BOOKED_ONLY
    assert reg_of(SAM).payments.get().manual_key == f"seat:{first_group().pk}:2"
