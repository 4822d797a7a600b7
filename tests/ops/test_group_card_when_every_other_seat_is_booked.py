"""A group payment card whose other seats were all booked with their own links, while the payer has
not booked yet, can still be settled: the operator confirms that the payer takes the last seat
(the form has nothing else to give), instead of being told to assign a seat that does not exist."""

import pytest
from django.urls import reverse

from registrations.audit import Actor
from registrations.models import Payment, ReviewItem, SeatReference
from registrations.seats import issue_seat_references

from .scenario import PRICE, book, make_event, pay

pytestmark = pytest.mark.django_db


def test_a_group_card_whose_other_seats_were_booked_by_link_closes_with_the_payer_taking_a_seat(
    ops_client, htmx_headers
):
    make_event()
    pay("pat.payer@example.org", "Pat Payer", amount=3 * PRICE, quantity=3)
    group = Payment.objects.get(method=Payment.Method.STRIPE)
    issue_seat_references(group, Actor.system("handoff"))
    for n, email in ((2, "sam.guest@example.org"), (3, "alex.other@example.org")):
        ref = SeatReference.objects.get(payment=group, seat=n).reference
        book(email, email.split(".")[0].title(), "Guest", intake={"ref": ref})
    item = ReviewItem.objects.get(kind=ReviewItem.Kind.GROUP_PAYMENT)
    assert item.state == ReviewItem.State.OPEN  # Pat has not booked their own seat yet

    response = ops_client.post(
        reverse("ops:queue_action", args=[item.pk, "assign"]), {"payer_takes_seat": "on"}, headers=htmx_headers()
    )
    assert response.status_code == 200
    assert "The payer takes a seat; every other seat was booked with its own link." in response.content.decode()
    item.refresh_from_db()
    assert (item.state, item.resolution) == (ReviewItem.State.RESOLVED, "seats_assigned")
    group.refresh_from_db()
    assert [s["seat"] for s in group.seat_assignments] == [1, 2, 3]


def test_a_group_card_with_seats_still_free_still_asks_for_one(ops_client, htmx_headers):
    make_event()
    pay("pat.payer@example.org", "Pat Payer", amount=3 * PRICE, quantity=3)
    item = ReviewItem.objects.get(kind=ReviewItem.Kind.GROUP_PAYMENT)
    body = ops_client.post(
        reverse("ops:queue_action", args=[item.pk, "assign"]), {"payer_takes_seat": "on"}, headers=htmx_headers()
    ).content.decode()
    assert "Assign at least one seat" in body
    assert ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.OPEN
