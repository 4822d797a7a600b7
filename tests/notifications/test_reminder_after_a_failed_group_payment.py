"""A payer whose group bank payment (several seats in one payment) failed gets payment reminders,
since nothing is paid. The reminder must ask them, as the "didn't go through" page does, to choose
that many seats on the payment page (the link's address cannot set the quantity): otherwise they
pay for one seat and the friends' places stay unpaid."""

import html
import re
from urllib.parse import urlsplit

import pytest

from notifications.render import render_reminder
from notifications.tokens import status_url
from registrations.models import Registration, Status
from registrations.services import apply_booking, apply_payment
from tests.domain.builders import booked, paid

from .conftest import ATYPE, PLINK

pytestmark = pytest.mark.django_db

PAYER = "pat.payer@example.org"


def _failed_debit(quantity):
    for status in ("unpaid", "failed"):
        apply_payment(
            paid(1, PAYER, name="Pat Payer", quantity=quantity, amount=quantity * 12000, status=status, plink=PLINK)
        )
    apply_booking(booked(100, PAYER, first="Pat", last="Payer", atype=ATYPE))
    reg = Registration.objects.get(attendee__email=PAYER)
    assert reg.status == Status.BOOKED_ONLY
    return reg


def test_payment_reminder_after_a_failed_group_payment_asks_to_choose_that_many_seats(event):
    reg = _failed_debit(3)

    out = render_reminder(reg, "payment", status_url="https://x/s", unsubscribe_url="https://x/u")

    assert out.errors == []
    for text in (out.text, html.unescape(re.sub(r"<[^>]+>", "", out.html))):
        assert "payment for 3 seats didn" in text and "choose 3 seats" in text
    assert "choose 3 seats" in out.sms


def test_payment_reminder_after_a_failed_single_seat_payment_mentions_no_seats(event):
    reg = _failed_debit(1)

    out = render_reminder(reg, "payment", status_url="https://x/s", unsubscribe_url="https://x/u")

    assert "seats" not in out.text + out.html + out.sms


def test_status_page_after_a_failed_group_payment_asks_to_choose_that_many_seats(client, event):
    reg = _failed_debit(3)

    page = html.unescape(client.get(urlsplit(status_url(reg.pk)).path).content.decode())

    assert "Complete my payment" in page
    assert "payment for 3 seats didn't go through" in page and "choose 3 seats" in page
