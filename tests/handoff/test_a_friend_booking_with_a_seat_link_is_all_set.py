"""A friend who books with a seat link of someone's paid group payment paid nothing themselves:
their "all set" page must not thank them for "your payment"."""

from integrations.handoff import booking_link
from registrations.models import Registration, SeatReference

from .conftest import book_through


def test_a_friend_booking_with_a_paid_seat_link_is_all_set_without_being_told_of_their_payment(
    client, fake_stripe, fake_acuity, event
):
    group = fake_stripe.add_session(email="sky@example.org", name="Sky Lee", quantity=2, amount=24000)
    client.get("/r/paid/", {"session_id": group["id"], "event": "spring-retreat"})
    payer = Registration.objects.get(attendee__email="sky@example.org")
    seat = SeatReference.objects.get(payment__registration=payer)
    appt = book_through(
        fake_acuity, booking_link(payer, seat_reference=seat.reference), email="fern@example.org", first="Fern"
    )

    body = client.get("/r/booked/", {"appointment": appt["id"], "event": "spring-retreat"}).content.decode()

    assert "all set" in body
    assert "Your payment" not in body
    assert "Your place is paid for and booked" in body
