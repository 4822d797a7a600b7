"""Booking after the event has started (Acuity still takes bookings for an event under way, e.g.
a walk-in booking at the door): the attendee is not sent on to the Stripe payment link, and a
donation event offers no donation link; the page says the event has started and whom to ask
(the same wording as the "not found" and outage pages, test_started_event_link_pages.py)."""

import re
from datetime import timedelta

from django.utils import timezone

from registrations.models import Registration, Status

from .conftest import ATYPE

TOLD_WHOM_TO_ASK = re.compile(r"The event has already started[^<]*Reply to your confirmation email and the organisers")


def _start(event, ago=timedelta(hours=1)):
    event.starts_at = timezone.now() - ago
    event.save()


def test_booking_after_the_start_says_it_started_instead_of_sending_them_to_pay(
    client, fake_stripe, fake_acuity, event
):
    _start(event)
    appt = fake_acuity.add_appointment(email="river@example.org", appointment_type_id=ATYPE)

    resp = client.get("/r/booked/", {"appointment": appt["id"], "event": "spring-retreat"})

    assert resp.status_code == 200  # not a redirect to the Payment Link
    body = resp.content.decode()
    assert "Your booking is in" in body
    assert TOLD_WHOM_TO_ASK.search(body), body
    assert "places can no longer be paid for online" in body
    assert "buy.stripe.com" not in body and "Pay for your place" not in body
    assert Registration.objects.get().status == Status.BOOKED_ONLY  # the booking is recorded all the same


def test_donation_event_booking_after_the_start_offers_no_donation_link(
    client, fake_stripe, fake_acuity, donation_event
):
    _start(donation_event, timedelta(minutes=5))
    appt = fake_acuity.add_appointment(email="river@example.org", appointment_type_id=4440002)

    resp = client.get("/r/booked/", {"appointment": appt["id"], "event": "forest-sit"})

    assert resp.status_code == 200
    body = resp.content.decode()
    assert "Your place is booked" in body
    assert TOLD_WHOM_TO_ASK.search(body), body
    assert "donations can no longer be given online" in body
    assert "donate.stripe.com" not in body and "Give a donation" not in body


def test_booking_before_the_start_still_goes_on_to_pay(client, fake_stripe, fake_acuity, event):
    appt = fake_acuity.add_appointment(email="river@example.org", appointment_type_id=ATYPE)

    resp = client.get("/r/booked/", {"appointment": appt["id"], "event": "spring-retreat"})

    assert resp.status_code == 302 and resp["Location"].startswith("https://buy.stripe.com/test_spring?")
