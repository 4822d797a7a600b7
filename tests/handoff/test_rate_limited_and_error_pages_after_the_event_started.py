"""The two remaining ways /r/booked/ and /r/paid/ reach the calm "your booking / payment is in"
page without looking at a provider's answer, after the event has started: past the per-address
look-up allowance, and on an unexpected error. Neither offers the event's plain link to pay or
book; both say the event has started and whom to ask (test_started_event_link_pages.py)."""

import re
from datetime import timedelta

from django.utils import timezone

from integrations import handoff_views

from .conftest import ATYPE

TOLD_WHOM_TO_ASK = re.compile(r"The event has already started[^<]*Reply to your confirmation email and the organisers")


def _start(event):
    event.starts_at = timezone.now() - timedelta(hours=1)
    event.save()


def test_past_the_look_up_allowance_after_the_start_no_payment_link_is_offered(
    client, fake_stripe, fake_acuity, event, settings
):
    _start(event)
    settings.HANDOFF_BOOKED_PER_IP_PER_HOUR = 1
    first, second = (fake_acuity.add_appointment(appointment_type_id=ATYPE) for _ in range(2))
    client.get("/r/booked/", {"appointment": first["id"], "event": "spring-retreat"})

    resp = client.get("/r/booked/", {"appointment": second["id"], "event": "spring-retreat"})

    assert resp.status_code == 200
    body = resp.content.decode()
    assert "Your booking is in" in body
    assert TOLD_WHOM_TO_ASK.search(body), body
    assert "buy.stripe.com" not in body and "Pay for your place" not in body


def test_unexpected_error_after_the_start_offers_no_booking_link(client, fake_stripe, fake_acuity, event, monkeypatch):
    _start(event)

    def broken(*a, **kw):
        raise RuntimeError("database fell over")

    monkeypatch.setattr(handoff_views, "apply_payment", broken)
    s = fake_stripe.add_session(email="river@example.org")

    resp = client.get("/r/paid/", {"session_id": s["id"], "event": "spring-retreat"})

    assert resp.status_code == 200
    body = resp.content.decode()
    assert "Thank you, we have your payment" in body
    assert TOLD_WHOM_TO_ASK.search(body), body
    assert "acuityscheduling.com" not in body and "Book your place" not in body
