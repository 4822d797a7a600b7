"""A friend who booked with a seat link of someone else's group payment made by bank debit never
paid anything themselves: while the debit clears they must not read "your bank payment has
started", and once it fails they must learn that it was the group payment that failed (and to
check with whoever paid for them) before being asked to pay for their own place."""

from integrations.handoff import booking_link
from integrations.parsing import session_to_signal
from notifications.tokens import status_token
from registrations.models import Registration, SeatReference
from registrations.services import apply_payment

from .conftest import book_through


def _friend_on_a_clearing_group_debit(client, fake_stripe, fake_acuity):
    debit = fake_stripe.add_session(
        email="sky@example.org", name="Sky Lee", quantity=3, amount=36000, payment_status="unpaid"
    )
    assert client.get("/r/paid/", {"session_id": debit["id"], "event": "spring-retreat"}).status_code == 200
    payer = Registration.objects.get(attendee__email="sky@example.org")
    seat = SeatReference.objects.filter(payment__registration=payer).order_by("seat").first()
    appt = book_through(
        fake_acuity,
        booking_link(payer, seat_reference=seat.reference),
        email="fern@example.org",
        first="Fern",
        last="Adeyemi",
    )
    return debit, appt, Registration.objects.filter(attendee__email="fern@example.org")


def _payment_reminder_after_the_group_debit_failed(client, fake_stripe, fake_acuity):
    """The payment reminder (rendered) to the friend once the payer's group debit failed."""
    from notifications.render import render_reminder

    debit, appt, friend = _friend_on_a_clearing_group_debit(client, fake_stripe, fake_acuity)
    client.get("/r/booked/", {"appointment": appt["id"], "event": "spring-retreat"})
    apply_payment(session_to_signal(debit, event_type="checkout.session.async_payment_failed", raw_ref="evt_fail"))
    return render_reminder(friend.get(), "payment", status_url="https://x/s", unsubscribe_url="https://x/u")


def test_a_friend_booking_on_a_clearing_group_debit_is_not_told_their_own_bank_payment_started(
    client, fake_stripe, fake_acuity, event
):
    _debit, appt, friend = _friend_on_a_clearing_group_debit(client, fake_stripe, fake_acuity)

    body = client.get("/r/booked/", {"appointment": appt["id"], "event": "spring-retreat"}).content.decode()

    assert friend.exists()
    assert "Your bank payment has started" not in body and "pay again" not in body
    assert "group payment" in body and "nothing for you to pay" in body

    status = client.get(f"/n/status/{status_token(friend.get().pk)}/").content.decode()
    assert "on its way" in status and "group payment" in status
    assert "pay again" not in status and "Complete my payment" not in status


def test_a_friend_whose_group_debit_failed_learns_that_before_being_asked_to_pay(
    client, fake_stripe, fake_acuity, event
):
    debit, appt, friend = _friend_on_a_clearing_group_debit(client, fake_stripe, fake_acuity)
    client.get("/r/booked/", {"appointment": appt["id"], "event": "spring-retreat"})
    apply_payment(session_to_signal(debit, event_type="checkout.session.async_payment_failed", raw_ref="evt_fail"))

    status = client.get(f"/n/status/{status_token(friend.get().pk)}/").content.decode()

    assert "Complete my payment" in status  # they may still pay for their own place
    assert "group payment that covered your place didn" in status
    assert "check with the person who paid for you" in status


def test_the_payment_reminder_to_a_friend_whose_group_debit_failed_says_it_was_the_group_payment(
    client, fake_stripe, fake_acuity, event
):
    import html
    import re

    out = _payment_reminder_after_the_group_debit_failed(client, fake_stripe, fake_acuity)

    assert out.errors == []
    for text in (out.text, html.unescape(re.sub(r"<[^>]+>", "", out.html))):
        text = re.sub(r"\s+", " ", text)
        assert "group payment that covered your place didn't go through" in text
        assert "check with the person who paid for you" in text
        assert "buy.stripe.com" in out.text  # they may still pay for their own place


def test_the_payment_text_message_to_a_friend_whose_group_debit_failed_says_it_was_the_group_payment(
    client, fake_stripe, fake_acuity, event
):
    from notifications.render import sms_segments

    out = _payment_reminder_after_the_group_debit_failed(client, fake_stripe, fake_acuity)

    assert out.errors == []
    assert "group payment for your place didn't go through" in out.sms
    assert "your payment hasn't come through" not in out.sms
    assert "https://x/s" in out.sms and "STOP" in out.sms
    assert sms_segments(out.sms) <= 2
