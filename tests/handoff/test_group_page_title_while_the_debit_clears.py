"""A group's bank debit still clearing: the page's title (the browser tab, the bookmark the payer
is told to keep) says the payment is being confirmed, as the heading and the single-seat page do;
not "Book each seat" as if it were paid, nor "Thank you" once the event has started."""

import html
import re
from datetime import timedelta

from django.utils import timezone


def _title(client, session_id: str) -> str:
    body = client.get("/r/paid/", {"session_id": session_id, "event": "spring-retreat"}).content.decode()
    return html.unescape(re.search(r"<title>(.*?)</title>", body, re.S).group(1))


def test_clearing_group_payment_page_title_says_the_payment_is_being_confirmed(client, fake_stripe, fake_acuity, event):
    s = fake_stripe.add_session(email="pat@example.org", amount=24000, quantity=2, payment_status="unpaid")

    title = _title(client, s["id"])

    assert title.startswith("We're confirming your payment for 2 seats"), title
    assert "Book each seat" not in title


def test_clearing_group_payment_after_the_start_is_not_titled_thank_you(client, fake_stripe, fake_acuity, event):
    event.starts_at = timezone.now() - timedelta(hours=1)
    event.save()
    s = fake_stripe.add_session(email="pat@example.org", amount=24000, quantity=2, payment_status="unpaid")

    title = _title(client, s["id"])

    assert title.startswith("We're confirming your payment for 2 seats"), title
    assert "Thank you" not in title


def test_paid_group_page_title_still_asks_to_book_each_seat(client, fake_stripe, fake_acuity, event):
    s = fake_stripe.add_session(email="pat@example.org", amount=24000, quantity=2)

    assert _title(client, s["id"]).startswith("Book each seat")
