"""The "group payment: N seats" card counts the seats the payment stands for now, not when the
card was opened: the quantity can arrive after the amount (the session's line items fetched
late) and the event's price can be corrected to another multiple. Once any seat was handed out
(by an operator or with a seat's own link) the count stays as it was and the card says the
payment now reads differently, for an operator to decide. See registrations/detection.py."""

from dataclasses import replace

import pytest

from registrations.audit import Actor
from registrations.models import AuditLog, Event, Payment, ReviewItem
from registrations.resolutions import ResolutionError, assign_group_seats
from registrations.services import apply_booking, apply_payment, recompute_event

from .builders import booked, paid

pytestmark = pytest.mark.django_db

PAYER = "pat.payer@example.org"


def group_card() -> ReviewItem:
    return ReviewItem.objects.get(kind=ReviewItem.Kind.GROUP_PAYMENT)


def friends(n):
    return [{"name": f"Friend {i}", "email": f"friend{i}@example.org"} for i in range(n)]


def test_the_quantity_arriving_after_the_amount_corrects_the_seat_count_on_the_card(event, admin_user):
    # 360 paid at a price of 120, line items not fetched yet: it reads as three seats.
    first = paid(1, PAYER, name="Pat Payer", amount=36000, quantity=None)
    apply_payment(first)
    assert group_card().data["seats"] == 3
    # The line items say two seats (at 180 each, whatever the event's price says).
    apply_payment(replace(first, quantity=2, raw_ref="evt_pay_1_line_items"))

    card = group_card()
    assert card.state == ReviewItem.State.OPEN
    assert card.data["seats"] == 2
    assert "for 2 seats" in card.explanation
    (row,) = AuditLog.objects.filter(action="review.updated", object_id=str(card.pk))
    assert row.before["seats"] == 3 and row.after["seats"] == 2
    # The operator cannot hand out a third seat that was never paid for.
    with pytest.raises(ResolutionError, match="Only 2 seats"):
        assign_group_seats(card.pk, friends(2), Actor.operator(admin_user))


def test_correcting_the_price_to_another_multiple_corrects_the_seat_count_on_the_card(event):
    apply_payment(paid(1, PAYER, name="Pat Payer", amount=36000, quantity=None))
    assert group_card().data["seats"] == 3

    Event.objects.filter(pk=event.pk).update(price=6000)  # the real price was 60: six seats
    recompute_event(event.pk)

    card = group_card()
    assert card.data["seats"] == 6
    assert "for 6 seats" in card.explanation
    # Told again, nothing changes and nothing more is written.
    recompute_event(event.pk)
    assert AuditLog.objects.filter(action="review.updated", object_id=str(card.pk)).count() == 1


def test_a_card_whose_seats_were_already_given_keeps_its_count_and_says_the_payment_reads_differently(
    event, admin_user
):
    apply_payment(paid(1, PAYER, name="Pat Payer", amount=36000, quantity=None))
    apply_booking(booked(100, PAYER, first="Pat", last="Payer"))
    card = group_card()
    # The operator gives one of the two extra seats. Assigning closes the card; it is put back
    # open here to stand for the rarer ways an open card has seats handed out (seat links issued
    # and partly booked, two records of one payment merged).
    assign_group_seats(card.pk, friends(1), Actor.operator(admin_user))
    ReviewItem.objects.filter(pk=card.pk).update(state=ReviewItem.State.OPEN, resolution="")

    Event.objects.filter(pk=event.pk).update(price=18000)  # ...then the price is corrected: two seats
    recompute_event(event.pk)

    card = group_card()
    assert card.data["seats"] == 3  # what was handed out stands
    assert card.data["seats_now"] == 2
    assert "now reads as 2 seats" in card.explanation
    assert Payment.objects.filter(method=Payment.Method.GROUP_SEAT).count() == 1
