"""An attendee who reaches the "we couldn't find that" or the outage page after the event has
started is told so and whom to ask, and is not offered the event's plain link to pay or book
(the same treatment as the thank-you page after paying at the door, test_event_started.py)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from .conftest import ATYPE

STARTED = "The event has already started"
# Said in the same paragraph as the start (the page's footer says it on every page anyway).
TOLD_WHOM_TO_ASK = re.compile(r"The event has already started[^<]*Reply to your confirmation email and the organisers")


@pytest.fixture
def started_event(event):
    event.starts_at = timezone.now() - timedelta(hours=1)
    event.save()
    return event


def _assert_told_it_started_and_not_sent_on(body: str):
    assert TOLD_WHOM_TO_ASK.search(body), body
    assert "acuityscheduling.com" not in body and "Book your place" not in body
    assert "buy.stripe.com" not in body and "Pay for your place" not in body


def test_unknown_payment_after_the_start_says_it_started_instead_of_offering_to_book(
    client, fake_stripe, fake_acuity, started_event
):
    resp = client.get("/r/paid/", {"session_id": "cs_test_nope", "event": "spring-retreat"})

    assert resp.status_code == 404
    body = resp.content.decode()
    assert "We couldn't find that payment" in body
    _assert_told_it_started_and_not_sent_on(body)


def test_unknown_booking_after_the_start_says_it_started_instead_of_offering_to_pay(
    client, fake_stripe, fake_acuity, started_event
):
    resp = client.get("/r/booked/", {"appointment": "%appointmentId%", "event": "spring-retreat"})

    assert resp.status_code == 404
    body = resp.content.decode()
    assert "We couldn't find that booking" in body
    _assert_told_it_started_and_not_sent_on(body)


def test_stripe_outage_after_the_start_says_it_started_instead_of_offering_to_book(
    client, fake_stripe, fake_acuity, started_event
):
    fake_stripe.down()
    resp = client.get("/r/paid/", {"session_id": "cs_test_abc123", "event": "spring-retreat"})

    assert resp.status_code == 200
    body = resp.content.decode()
    assert "Thank you, we have your payment" in body
    _assert_told_it_started_and_not_sent_on(body)


def test_acuity_outage_after_the_start_says_it_started_instead_of_offering_to_pay(
    client, fake_stripe, fake_acuity, started_event
):
    appt = fake_acuity.add_appointment(appointment_type_id=ATYPE)
    fake_acuity.down()
    resp = client.get("/r/booked/", {"appointment": appt["id"], "event": "spring-retreat"})

    assert resp.status_code == 200
    body = resp.content.decode()
    assert "Your booking is in" in body
    _assert_told_it_started_and_not_sent_on(body)


def test_donation_event_outage_after_the_start_offers_no_donation_link(
    client, fake_stripe, fake_acuity, donation_event
):
    donation_event.starts_at = timezone.now() - timedelta(minutes=5)
    donation_event.save()
    fake_acuity.down()
    resp = client.get("/r/booked/", {"appointment": "12345", "event": "forest-sit"})

    body = resp.content.decode()
    assert TOLD_WHOM_TO_ASK.search(body), body
    assert "donate.stripe.com" not in body and "Give a donation" not in body


def test_before_the_start_the_pages_still_offer_the_plain_links(client, fake_stripe, fake_acuity, event):
    body = client.get("/r/paid/", {"session_id": "cs_test_nope", "event": "spring-retreat"}).content.decode()
    assert "Book your place" in body and STARTED not in body
    body = client.get("/r/booked/", {"appointment": "%appointmentId%", "event": "spring-retreat"}).content.decode()
    assert "Pay for your place" in body and STARTED not in body
