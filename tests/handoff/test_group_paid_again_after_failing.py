"""A group bank debit fails after a friend booked with a seat link; the payer pays again for the
same number of seats from the "didn't go through" page. The page after the new payment shows
the friend's seat as booked (the new payment took it over: the friend is paid, not reminded to
pay) and, for the seat nobody booked yet, the very link the payer already sent."""

from integrations.parsing import appointment_to_signal, session_to_signal
from registrations.models import Payment, Registration, SeatReference, Status
from registrations.services import apply_booking, apply_payment

from .conftest import REF_FIELD, book_through

PAYER = "pat.payer@example.org"


def _page(client, session):
    resp = client.get("/r/paid/", {"session_id": session["id"], "event": "spring-retreat"})
    assert resp.status_code == 200
    return resp.content.decode()


def _seat_link(page: str, ref: str) -> str:
    return next(part for part in page.split('"') if f"field:{REF_FIELD}={ref}" in part).replace("&amp;", "&")


def test_paying_again_for_a_failed_group_shows_the_friends_seat_booked_and_keeps_the_unused_link(
    client, fake_stripe, fake_acuity, event
):
    debit = fake_stripe.add_session(email=PAYER, quantity=3, amount=36000, payment_status="unpaid")
    page = _page(client, debit)
    first = Payment.objects.get(checkout_session_id=debit["id"])
    refs = {r.seat: r.reference for r in SeatReference.objects.filter(payment=first)}
    appt = book_through(fake_acuity, _seat_link(page, refs[2]), email="sam@example.org", first="Sam")
    apply_booking(appointment_to_signal(appt))
    apply_payment(session_to_signal(debit, event_type="checkout.session.async_payment_failed", raw_ref="evt_fail"))
    assert "Try paying again for 3 seats" in _page(client, debit)
    payer = Registration.objects.get(attendee__email=PAYER)

    again = fake_stripe.add_session(email=PAYER, quantity=3, amount=36000, client_reference_id=payer.reference)
    body = _page(client, again)

    assert "Booked ✓" in body  # Sam's seat, taken over from the failed payment
    assert f"field:{REF_FIELD}={refs[3]}" in body  # the link for seat 3 the payer already has
    sam = Registration.objects.get(attendee__email="sam@example.org")
    assert sam.status == Status.COMPLETE
    assert sam.payments.get().state == Payment.State.PAID
