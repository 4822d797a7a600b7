"""Paying for several seats after the event has started (the Payment Link is still live, e.g.
scanned at the door): the group page offers no booking link for any seat (there is no booking
an event already under way) and says the event has started and whom to ask, as the single-seat
thank-you page does (test_event_started.py)."""

import re
from datetime import timedelta

from django.utils import timezone

from registrations.models import Payment

from .conftest import REF_FIELD

TOLD_WHOM_TO_ASK = re.compile(r"The event has already started[^<]*Reply to your confirmation email and the organisers")


def _started(event):
    event.starts_at = timezone.now() - timedelta(hours=1)
    event.save()


def _assert_no_booking_links(body: str):
    assert "acuityscheduling.com" not in body and f"field:{REF_FIELD}" not in body
    assert "Book my place" not in body and "Booking link" not in body
    assert "Each seat has its own booking link" not in body


def test_group_payment_after_the_start_offers_no_seat_booking_links(client, fake_stripe, fake_acuity, event):
    _started(event)
    s = fake_stripe.add_session(email="pat@example.org", name="Pat Payer", amount=36000, quantity=3)

    resp = client.get("/r/paid/", {"session_id": s["id"], "event": "spring-retreat"})

    assert resp.status_code == 200
    body = resp.content.decode()
    assert "you paid for 3 seats" in body
    assert TOLD_WHOM_TO_ASK.search(body), body
    assert "places can no longer be booked online" in body
    _assert_no_booking_links(body)
    assert "organisers will send booking details" not in body
    assert Payment.objects.get().quantity == 3  # the payment is recorded all the same


def test_clearing_group_payment_after_the_start_does_not_say_everyone_can_book(client, fake_stripe, fake_acuity, event):
    _started(event)
    s = fake_stripe.add_session(email="pat@example.org", amount=24000, quantity=2, payment_status="unpaid")

    body = client.get("/r/paid/", {"session_id": s["id"], "event": "spring-retreat"}).content.decode()

    assert "confirming your payment for 2 seats" in body
    assert "everyone can book" not in body
    assert TOLD_WHOM_TO_ASK.search(body), body
    _assert_no_booking_links(body)


def test_group_payment_before_the_start_still_has_a_link_per_seat(client, fake_stripe, fake_acuity, event):
    s = fake_stripe.add_session(email="pat@example.org", amount=24000, quantity=2)

    body = client.get("/r/paid/", {"session_id": s["id"], "event": "spring-retreat"}).content.decode()

    assert body.count(f"field:{REF_FIELD}=") >= 2 and "The event has already started" not in body
