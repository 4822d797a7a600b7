"""A group bought by bank debit: the friends who booked with their seat links hold a seat of the
payer's debit, not a payment of their own. When the debit has not cleared, the review card of a
seat says so, rather than that the friend paid 0.00 by bank debit."""

from datetime import timedelta

import pytest
from django.utils import timezone

from registrations.audit import Actor
from registrations.clearing import flag_stalled_debits
from registrations.models import Payment, ReviewItem, SeatReference
from registrations.seats import issue_seat_references
from registrations.services import apply_booking, apply_payment

from .builders import booked, paid

pytestmark = pytest.mark.django_db

PAYER = "pat.payer@example.org"
FRIEND = "sam.guest@example.org"


def test_a_seat_of_a_group_bank_debit_not_cleared_names_the_payer_and_the_debit(event):
    apply_payment(paid(1, PAYER, name="Pat Payer", quantity=2, amount=24000, status="unpaid"))
    apply_booking(booked(100, PAYER, first="Pat", last="Payer"))
    group = Payment.objects.get(method=Payment.Method.STRIPE)
    issue_seat_references(group, Actor.system("handoff"))
    seat_ref = SeatReference.objects.get(payment=group, seat=2).reference
    apply_booking(booked(200, FRIEND, first="Sam", last="Guest", intake={"ref": seat_ref}))
    assert Payment.objects.get(method=Payment.Method.GROUP_SEAT).state == Payment.State.UNPAID

    flag_stalled_debits(now=timezone.now() + timedelta(days=15))

    seat_card = ReviewItem.objects.get(kind="payment_not_cleared", registration__attendee__email=FRIEND)
    assert "paid 0.00 USD" not in seat_card.explanation
    assert "seat 2" in seat_card.explanation and PAYER in seat_card.explanation
    assert "240.00 USD" in seat_card.explanation and "2026-11-01" in seat_card.explanation


def _group_by_debit_with_a_friend_on_seat_2():
    apply_payment(paid(1, PAYER, name="Pat Payer", quantity=3, amount=36000, status="unpaid"))
    apply_booking(booked(100, PAYER, first="Pat", last="Payer"))
    group = Payment.objects.get(method=Payment.Method.STRIPE)
    issue_seat_references(group, Actor.system("handoff"))
    seat_ref = SeatReference.objects.get(payment=group, seat=2).reference
    apply_booking(booked(200, FRIEND, first="Sam", last="Guest", intake={"ref": seat_ref}))
    return group


def test_remind_to_pay_on_the_payers_card_also_lifts_the_hold_on_the_seats_it_covers(event):
    from registrations.clearing import remind_to_pay, still_clearing
    from registrations.models import AuditLog

    group = _group_by_debit_with_a_friend_on_seat_2()
    flag_stalled_debits(now=timezone.now() + timedelta(days=15))
    payer_card = ReviewItem.objects.get(kind="payment_not_cleared", payment=group)
    seat_card = ReviewItem.objects.get(kind="payment_not_cleared", registration__attendee__email=FRIEND)

    remind_to_pay(payer_card.pk, Actor.system("test"))

    seat_card.refresh_from_db()
    assert seat_card.state == ReviewItem.State.RESOLVED and seat_card.resolution == "remind_to_pay"
    assert AuditLog.objects.filter(action="review.resolved.remind_to_pay", registration=seat_card.registration).exists()
    assert not still_clearing(Payment.objects.filter(method=Payment.Method.GROUP_SEAT)).exists()

    # A friend who takes seat 3 afterwards is not held back by the debit either, and no card
    # opens for their seat later.
    seat_ref = SeatReference.objects.get(payment=group, seat=3).reference
    apply_booking(booked(300, "kim.third@example.org", first="Kim", last="Third", intake={"ref": seat_ref}))
    assert not still_clearing(Payment.objects.filter(method=Payment.Method.GROUP_SEAT)).exists()
    flag_stalled_debits(now=timezone.now() + timedelta(days=40))
    assert not ReviewItem.objects.filter(
        kind="payment_not_cleared", state=ReviewItem.State.OPEN, registration__attendee__email="kim.third@example.org"
    ).exists()
