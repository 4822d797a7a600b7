"""The details under each history entry read as plain words: field labels instead of field names,
times in the event's time zone with the zone named, amounts with their currency, yes/no instead of
True/False, lists as comma-separated words — never "changed: ['checkout_session_id']"."""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from registrations.services import apply_booking, apply_payment
from registrations.signals import BookingSignal, PaymentSignal

from .scenario import ATYPE, PLINK

pytestmark = pytest.mark.django_db

DEVELOPER_TEXT = re.compile(r"\[|\]|'|\bTrue\b|\bFalse\b|\b[a-z]+_[a-z_]+\b|\d{4}-\d\d-\d\dT")


def _details(client, event, reg, title):
    page = client.get(reverse("ops:registration", args=[event.slug, reg.pk])).content.decode()
    found = re.findall(
        rf'<span class="tl-title">{re.escape(title)}</span>.*?<span class="tl-detail">([^<]*)</span>', page, re.S
    )
    assert found, f"no {title!r} entry with a detail on the page"
    return [d.replace("&#x27;", "'").replace("&quot;", '"').replace("&amp;", "&") for d in found]


def _booking(n, status, starts_at, email="rita.resched@example.org"):
    return apply_booking(
        BookingSignal(
            status=status,
            source_id=str(n),
            event_keys=(("acuity_appointment_type", ATYPE),),
            email=email,
            first_name="Rita",
            last_name="Resched",
            starts_at=starts_at,
            timezone="America/Los_Angeles",
            appointment_type_id=ATYPE,
            occurred_at=timezone.now() + timedelta(seconds=n % 100),
            raw_ref=f"acuity:{n}:{status}:{starts_at.isoformat()}",
        )
    )


def test_a_rescheduled_booking_says_the_new_appointment_time_in_the_event_zone(ops_client, event):
    first = datetime(2026, 12, 14, 18, 0, tzinfo=UTC)
    moved = datetime(2026, 12, 15, 18, 0, tzinfo=UTC)
    _booking(880001, "booked", first)
    reg = _booking(880001, "rescheduled", moved).registration
    (detail,) = _details(ops_client, event, reg, "Booking rescheduled")
    local = moved.astimezone(zoneinfo.ZoneInfo(event.timezone))
    assert f"Appointment time: {local.day} {local:%b %Y %H:%M %Z}" in detail, detail
    assert "15 Dec 2026 10:00 PST" in detail, detail
    assert "Changed: Appointment time" in detail, detail
    assert not DEVELOPER_TEXT.search(detail), detail


def test_a_cancelled_booking_says_cancelled_yes_in_words(ops_client, event):
    start = datetime(2026, 12, 14, 18, 0, tzinfo=UTC)
    _booking(880002, "booked", start, email="carl.cancel@example.org")
    reg = _booking(880002, "cancelled", start, email="carl.cancel@example.org").registration
    (detail,) = _details(ops_client, event, reg, "Booking cancelled")
    assert "Cancelled: yes" in detail, detail
    assert not DEVELOPER_TEXT.search(detail), detail
    recorded = _details(ops_client, event, reg, "Booking recorded")
    for text in recorded:  # a booking that is not cancelled does not say "Cancelled: no/False"
        assert "Cancelled" not in text and not DEVELOPER_TEXT.search(text), text


def test_an_updated_payment_names_what_changed_in_words_and_the_amount_with_its_currency(ops_client, event):
    base = dict(
        payment_intent_id="pi_plain_1",
        event_keys=(("stripe_payment_link", PLINK),),
        email="paula.update@example.org",
        name="Paula Update",
        amount=12000,
        currency="usd",
        quantity=1,
    )
    apply_payment(PaymentSignal(status="unpaid", source_id="pi_plain_1", raw_ref="evt_plain_1", **base))
    reg = apply_payment(
        PaymentSignal(
            status="paid",
            source_id="cs_plain_1",
            checkout_session_id="cs_plain_1",
            charge_id="ch_plain_1",
            occurred_at=timezone.now(),
            raw_ref="evt_plain_2",
            **base,
        )
    ).registration
    (detail,) = _details(ops_client, event, reg, "Payment updated")
    assert "Changed: Payment state, Checkout session, Charge" in detail, detail
    assert "Amount: 120.00 USD" in detail, detail
    assert "Payment state: Paid" in detail, detail
    assert not DEVELOPER_TEXT.search(detail), detail
