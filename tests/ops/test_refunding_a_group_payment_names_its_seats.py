"""A group payment's seats follow its full refund (registrations/seats.py): refunding it in full
makes every seat holder "Refunded". The operator refunding it from a card (the payer cancelled
their own seat, or it was a duplicate) is told whose seats go with it, on the card and on the
confirm step, before any money moves."""

import html
import re

import pytest
from django.urls import reverse

from registrations.audit import Actor
from registrations.models import Payment, Registration, ReviewItem, Status
from registrations.resolutions import assign_group_seats

from .scenario import PRICE, book, make_event, pay

pytestmark = pytest.mark.django_db


def page_text(response) -> str:
    """The words of the page, tags left out (the names may be in bold)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def pat_pays_three_seats_and_gives_two(operator) -> Registration:
    """Pat pays three seats and books; Sam (booked) and Nia (named) get the other two. Returns
    Sam's registration."""
    make_event()
    pay("pat.payer@example.org", "Pat Payer", amount=3 * PRICE, quantity=3)
    book("pat.payer@example.org", "Pat", "Payer", source_id=9101)
    book("sam.guest@example.org", "Sam", "Guest")
    sam = Registration.objects.get(attendee__email="sam.guest@example.org")
    group_item = ReviewItem.objects.get(kind=ReviewItem.Kind.GROUP_PAYMENT)
    assign_group_seats(
        group_item.pk,
        [{"registration_id": sam.pk}, {"name": "Nia Named", "email": "nia.named@example.org"}],
        Actor.operator(operator),
    )
    return sam


def test_refunding_a_cancelled_payers_group_payment_warns_that_the_seat_holders_are_refunded_too(
    ops_client, operator, htmx_headers
):
    sam = pat_pays_three_seats_and_gives_two(operator)
    book("pat.payer@example.org", "Pat", "Payer", source_id=9101, status="cancelled")  # Pat cannot come
    item = ReviewItem.objects.get(kind=ReviewItem.Kind.PAID_CANCELLED, state=ReviewItem.State.OPEN)
    group = Payment.objects.get(method=Payment.Method.STRIPE)

    card = page_text(ops_client.get(reverse("ops:queue")))
    warning = "also pays for the seats of Nia Named <nia.named@example.org> and Sam Guest <sam.guest@example.org>"
    assert warning in card
    assert "refunding it in full refunds their seats too" in card

    confirm = page_text(
        ops_client.post(
            reverse("ops:queue_action", args=[item.pk, "refund"]),
            {"payment": group.pk, "amount": "360.00"},
            headers=htmx_headers(),
        )
    )
    assert "Confirm refund of" in confirm
    assert warning in confirm
    # Nothing moved yet.
    assert Registration.objects.get(pk=sam.pk).status == Status.COMPLETE


def test_the_refund_of_a_group_payer_who_cancelled_is_filled_in_with_their_own_seats_share(ops_client, operator):
    """Pat paid three seats and cannot come; Sam and Nia still can. The card offers to refund
    Pat's own seat (one third), not the whole group, which would refund Sam's and Nia's too."""
    pat_pays_three_seats_and_gives_two(operator)
    book("pat.payer@example.org", "Pat", "Payer", source_id=9101, status="cancelled")

    page = ops_client.get(reverse("ops:queue") + "?kind=paid_cancelled").content.decode()
    filled = re.search(r'name="amount" inputmode="decimal" value="([^"]*)"', page).group(1)
    assert filled == f"{PRICE / 100:.2f}"
    assert "Filled in with one seat" in page_text(ops_client.get(reverse("ops:queue") + "?kind=paid_cancelled"))


def test_the_refund_of_a_group_payer_who_cancelled_is_one_seat_even_when_the_amount_told_the_seats(
    ops_client, operator
):
    """Pat's 360.00 at a 120.00 event came without a quantity (the amount said '3 seats') and only
    Sam has been given a seat so far. The card still fills in one seat's share, 120.00, not half
    the payment."""
    make_event()
    pay("pat.payer@example.org", "Pat Payer", amount=3 * PRICE, quantity=1)
    book("pat.payer@example.org", "Pat", "Payer", source_id=9102)
    book("sam.guest@example.org", "Sam", "Guest")
    sam = Registration.objects.get(attendee__email="sam.guest@example.org")
    group_item = ReviewItem.objects.get(kind=ReviewItem.Kind.GROUP_PAYMENT)
    assert group_item.data["seats"] == 3
    assign_group_seats(group_item.pk, [{"registration_id": sam.pk}], Actor.operator(operator))
    book("pat.payer@example.org", "Pat", "Payer", source_id=9102, status="cancelled")

    page = ops_client.get(reverse("ops:queue") + "?kind=paid_cancelled").content.decode()
    filled = re.search(r'name="amount" inputmode="decimal" value="([^"]*)"', page).group(1)
    assert filled == f"{PRICE / 100:.2f}"
    assert f"one seat's share (${PRICE / 100:.2f})" in page_text(
        ops_client.get(reverse("ops:queue") + "?kind=paid_cancelled")
    )
