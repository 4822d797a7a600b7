"""Someone who paid for themselves and then also got a seat of a friend's group payment (within a
day) gets a "duplicate payment" card whose "second payment" is the seat: 0.00, not theirs to
refund. What they paid twice with is their own payment, and that is what the card refunds
through Stripe; their seat keeps them on the list."""

import pytest
from django.urls import reverse

from registrations.audit import Actor
from registrations.models import Payment, Registration, ReviewItem, SeatReference, Status
from registrations.seats import issue_seat_references

from .refunding import refund_post
from .scenario import PRICE, book, make_event, pay_via_fake

pytestmark = pytest.mark.django_db


def test_a_seat_holder_who_also_paid_is_refunded_their_own_payment_from_the_duplicate_card(
    ops_client, fake_stripe, htmx_headers
):
    make_event()
    pay_via_fake(fake_stripe, "sam.guest@example.org", "Sam Guest")  # Sam pays for himself...
    own = Payment.objects.get(registration__attendee__email="sam.guest@example.org")
    pay_via_fake(fake_stripe, "pat.payer@example.org", "Pat Payer", amount=2 * PRICE, quantity=2)
    book("pat.payer@example.org", "Pat", "Payer")
    group = Payment.objects.get(registration__attendee__email="pat.payer@example.org")
    issue_seat_references(group, Actor.system("handoff"))
    ref = SeatReference.objects.get(payment=group, seat=2).reference
    book("sam.guest@example.org", "Sam", "Guest", intake={"ref": ref})  # ...and books with Pat's seat link
    item = ReviewItem.objects.get(kind=ReviewItem.Kind.DUPLICATE_PAYMENT, state=ReviewItem.State.OPEN)

    card = ops_client.get(reverse("ops:queue")).content.decode()
    assert f'name="payment" value="{own.pk}"' in card  # his own 120.00 is offered for a refund
    assert "cannot be refunded through Stripe" not in card

    refund_post(ops_client, item, own, "120.00", htmx_headers(), confirm=False)
    done = refund_post(ops_client, item, own, "120.00", htmx_headers()).content.decode()
    assert "Refunded $120.00 to Sam Guest" in done
    own.refresh_from_db()
    assert own.amount_refunded == PRICE
    assert Registration.objects.get(attendee__email="sam.guest@example.org").status == Status.COMPLETE  # his seat
    group.refresh_from_db()
    assert group.amount_refunded == 0
