"""A seat link of a group payment is meant for one person. When a second person books with a
link whose seat someone else already took (the payer sent it to two friends, or it was
forwarded), their place is not covered: they must be told why before being asked to pay, not
silently sent to the payment page they thought someone had already paid."""

from integrations.handoff import booking_link
from registrations.models import Registration, SeatReference

from .conftest import book_through


def _seat_link_booked_by_two(client, fake_stripe, fake_acuity):
    group = fake_stripe.add_session(email="sky@example.org", name="Sky Lee", quantity=3, amount=36000)
    client.get("/r/paid/", {"session_id": group["id"], "event": "spring-retreat"})
    payer = Registration.objects.get(attendee__email="sky@example.org")
    seat = SeatReference.objects.filter(payment__registration=payer).order_by("seat").first()
    link = booking_link(payer, seat_reference=seat.reference)
    first = book_through(fake_acuity, link, email="fern@example.org", first="Fern", last="Adeyemi")
    assert client.get("/r/booked/", {"appointment": first["id"], "event": "spring-retreat"}).status_code == 200
    second = book_through(fake_acuity, link, email="glen@example.org", first="Glen", last="Park")
    return client.get("/r/booked/", {"appointment": second["id"], "event": "spring-retreat"})


def test_the_second_person_to_book_with_one_seat_link_is_told_the_seat_was_taken_before_paying(
    client, fake_stripe, fake_acuity, event
):
    response = _seat_link_booked_by_two(client, fake_stripe, fake_acuity)

    assert response.status_code == 200  # a page that explains, not a silent redirect to Stripe
    body = response.content.decode()
    assert "already used" in body and "person who sent you the link" in body
    assert "buy.stripe.com" in body and "glen%40example.org" in body  # they can still pay for their place
    assert "Fern" not in body and "fern@example.org" not in body  # nothing about who took the seat
