"""A group bank debit (the payer's seat and friends' seats in one payment) that fails while the
payer's own place is paid another way (they paid for themselves by card). The "didn't go
through" page must not say there is no need to pay: only the payer's own place is paid, the other
seats of the failed payment are not, and the page says so and what to do about them. When the
payer's other payment covers every seat of the failed one, there really is nothing to pay."""

from integrations.parsing import appointment_to_signal, session_to_signal
from registrations.models import Payment, Registration, SeatReference, Status
from registrations.services import apply_booking, apply_payment

from .conftest import REF_FIELD, book_through

PAYER = "pat.payer@example.org"


def _record(fake_stripe, session, raw_ref):
    apply_payment(session_to_signal(session, line_items=fake_stripe.line_items[session["id"]], raw_ref=raw_ref))


def _fail(session):
    apply_payment(session_to_signal(session, event_type="checkout.session.async_payment_failed", raw_ref="evt_fail"))


def _page(client, session):
    resp = client.get("/r/paid/", {"session_id": session["id"], "event": "spring-retreat"})
    assert resp.status_code == 200
    return resp.content.decode()


def _seat_link(page: str, ref: str) -> str:
    return next(part for part in page.split('"') if f"field:{REF_FIELD}={ref}" in part).replace("&amp;", "&")


def _group_debit_with_a_friend_booked(client, fake_stripe, fake_acuity, seats=3):
    debit = fake_stripe.add_session(email=PAYER, quantity=seats, amount=12000 * seats, payment_status="unpaid")
    page = _page(client, debit)  # the payer lands on the group page while the debit clears
    group = Payment.objects.get(checkout_session_id=debit["id"])
    seat_ref = SeatReference.objects.get(payment=group, seat=2).reference
    appt = book_through(fake_acuity, _seat_link(page, seat_ref), email="sam@example.org", first="Sam")
    apply_booking(appointment_to_signal(appt))
    return debit


def test_failed_group_debit_of_a_payer_whose_own_place_is_paid_says_the_other_seats_are_not(
    client, fake_stripe, fake_acuity, event
):
    debit = _group_debit_with_a_friend_booked(client, fake_stripe, fake_acuity, seats=3)
    card = fake_stripe.add_session(email=PAYER)  # the payer pays for their own place by card
    _record(fake_stripe, card, "evt_card")
    _fail(debit)
    payer = Registration.objects.get(attendee__email=PAYER)
    assert payer.payments.filter(state="paid").count() == 1
    sam = Registration.objects.get(attendee__email="sam@example.org")
    assert sam.status == Status.BOOKED_ONLY  # Sam's seat was on the failed payment

    body = _page(client, debit)

    assert "Your payment didn" in body and "nothing was taken" in body
    assert "no need to pay again" not in body
    assert "Your own place is paid" in body
    assert "2 other seats" in body and "are not paid for" in body
    # No "Try paying again": the Payment Link would count the payer's own seat again.
    assert "Try paying again" not in body and "buy.stripe.com" not in body
    assert "organisers will help you pay for the 2 other seats" in body


def test_failed_group_debit_of_a_payer_who_paid_again_for_every_seat_says_nothing_to_pay(
    client, fake_stripe, fake_acuity, event
):
    debit = _group_debit_with_a_friend_booked(client, fake_stripe, fake_acuity, seats=3)
    _fail(debit)
    again = fake_stripe.add_session(email=PAYER, quantity=3, amount=36000)
    _record(fake_stripe, again, "evt_again")

    body = _page(client, debit)

    assert "already paid" in body and "no need to pay again" in body
    assert "other seats" not in body
    assert "Try paying again" not in body and "buy.stripe.com" not in body


def test_failed_group_debit_while_the_payers_own_debit_clears_says_the_other_seats_are_not_paid(
    client, fake_stripe, fake_acuity, event
):
    debit = _group_debit_with_a_friend_booked(client, fake_stripe, fake_acuity, seats=2)
    own = fake_stripe.add_session(email=PAYER, payment_status="unpaid")
    _record(fake_stripe, own, "evt_own")
    _fail(debit)

    body = _page(client, debit)

    assert "being confirmed" in body
    assert "1 other seat (" in body and "is not paid for" in body
    assert "Try paying again" not in body and "buy.stripe.com" not in body
