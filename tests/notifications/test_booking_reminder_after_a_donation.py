"""Someone who gave a donation for a donation-based event but has not booked yet gets a booking
reminder: it thanks them for their donation, not for "your payment" (they did not pay a price)."""

import html
import re

from notifications.render import render_reminder
from registrations.models import Event, Status


def test_a_booking_reminder_after_a_donation_thanks_for_the_donation_not_a_payment(one_sided, event):
    event.kind = Event.Kind.DONATION
    event.price = None
    event.save()
    reg = one_sided(Status.PAID_ONLY, phone="+14155550123")

    out = render_reminder(reg, "booking", status_url="https://x.example/s", unsubscribe_url="https://x.example/u")

    assert out.errors == []
    email_html = html.unescape(re.sub(r"<[^>]+>", "", out.html))
    for text in (out.text, email_html):
        assert "Thank you for your donation" in text
        assert "your payment" not in text
    assert "thanks for your donation" in out.sms and "paying" not in out.sms


def test_a_booking_reminder_after_paying_for_a_priced_event_still_thanks_for_the_payment(one_sided):
    reg = one_sided(Status.PAID_ONLY)

    out = render_reminder(reg, "booking", status_url="https://x.example/s", unsubscribe_url="https://x.example/u")

    assert "Thank you for your payment" in out.text and "thanks for paying" in out.sms
