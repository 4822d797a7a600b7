"""A wrong price makes a single payment look like a group payment (120 paid at a price of 60 = two
seats). Correcting the price, or making the event donation-based, re-derives the registration: the
group card it caused closes by itself, and comes back if the price goes back."""

import pytest

from registrations.models import Event, Registration, ReviewItem, Status
from registrations.services import apply_payment, recompute_event

from .builders import paid

pytestmark = pytest.mark.django_db


def group_card():
    return ReviewItem.objects.get(kind=ReviewItem.Kind.GROUP_PAYMENT)


@pytest.mark.parametrize("correction", [{"price": 12000}, {"kind": Event.Kind.DONATION}], ids=["price", "kind"])
def test_correcting_a_wrong_price_closes_the_group_payment_card_it_caused(event, correction):
    Event.objects.filter(pk=event.pk).update(price=6000)  # typed 60 instead of 120
    apply_payment(paid(1, "one@example.org", amount=12000))
    assert group_card().state == ReviewItem.State.OPEN
    assert Registration.objects.get().status == Status.NEEDS_REVIEW

    Event.objects.filter(pk=event.pk).update(**correction)
    recompute_event(event.pk)

    assert group_card().state == ReviewItem.State.RESOLVED
    assert group_card().resolution.startswith("auto:")
    assert Registration.objects.get().status == Status.PAID_ONLY

    Event.objects.filter(pk=event.pk).update(price=6000, kind=Event.Kind.PAID)  # and back again
    recompute_event(event.pk)
    assert group_card().state == ReviewItem.State.OPEN


def test_a_group_card_whose_seats_were_already_given_stays_as_it_is(event):
    Event.objects.filter(pk=event.pk).update(price=6000)
    apply_payment(paid(1, "one@example.org", amount=12000))
    group_card().payment.__class__.objects.filter(pk=group_card().payment_id).update(
        seat_assignments=[{"seat": 1, "email": "one@example.org"}]
    )

    Event.objects.filter(pk=event.pk).update(price=12000)
    recompute_event(event.pk)

    assert group_card().state == ReviewItem.State.OPEN  # an operator decides what the seats mean now


def test_a_group_payment_of_several_seats_by_quantity_keeps_its_card_whatever_the_price(event):
    apply_payment(paid(1, "one@example.org", amount=24000, quantity=2))
    Event.objects.filter(pk=event.pk).update(price=24000)
    recompute_event(event.pk)
    assert group_card().state == ReviewItem.State.OPEN
