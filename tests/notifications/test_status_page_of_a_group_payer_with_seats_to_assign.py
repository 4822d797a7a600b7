"""A payer for several seats waits in review until an operator gives out the seats (the group
card), but their own place still has to be booked, as the payment page told them. Their status
page offers "Book my place", not "Place not booked yet" beside "There's nothing you need to do";
other reviews (a suspected duplicate person, say) still offer nothing."""

from notifications.tokens import status_token
from registrations.models import Registration, ReviewItem, Status
from tests.ops.scenario import make_event, pay


def _page(client, reg) -> str:
    return " ".join(client.get(f"/n/status/{status_token(reg.pk)}/").content.decode().split())


def test_a_group_payer_whose_seats_are_still_to_assign_is_offered_to_book_their_place(client, db):
    make_event()
    pay("gina@example.org", "Gina Group", amount=36000, quantity=3)
    reg = Registration.objects.get(attendee__email="gina@example.org")
    assert reg.status == Status.NEEDS_REVIEW
    assert set(ReviewItem.objects.filter(state="open").values_list("kind", flat=True)) == {"group_payment"}

    page = _page(client, reg)

    assert "Book my place" in page
    assert "nothing you need to do" not in page


def test_a_payer_in_review_for_another_reason_is_not_offered_a_link(client, db):
    make_event()
    pay("gina@example.org", "Gina Group", amount=36000, quantity=3)
    reg = Registration.objects.get(attendee__email="gina@example.org")
    ReviewItem.objects.create(
        kind=ReviewItem.Kind.DUPLICATE_PAYMENT, key="dup-test", event=reg.event, registration=reg, explanation="x"
    )

    page = _page(client, reg)

    assert "Book my place" not in page
    assert "nothing you need to do" in page
