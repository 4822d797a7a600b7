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

DEVELOPER_TEXT = re.compile(r"\[|\]|\bTrue\b|\bFalse\b|\b[a-z]+_[a-z_]+\b|\d{4}-\d\d-\d\dT")


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
    assert "Amount: $120.00" in detail, detail  # as the page gives money
    assert "Payment state: Paid" in detail, detail
    assert not DEVELOPER_TEXT.search(detail), detail


# What each audited action writes (registrations.* / notifications.*), with representative values.
EVERY_ACTION = {
    "registration.created": {"reference": "R23MNJCV9CXHB26MA", "source": "walk_in"},
    "registration.walk_in": {"method": "card_in_person", "amount": 12000, "note": "at the door"},
    "registration.merged": {
        "registration": "R23MNJCV9CXHB26MA",
        "reason": "same person",
        "opt_outs_carried": ["sms_opt_out"],
    },
    "registration.attendee_merged": {"attendee": "a@example.org", "reason": "same person"},
    "registration.marked_paid": {"amount": 12000, "method": "cash", "reason": "paid at the door"},
    "registration.marked_booked": {"reason": "booked by phone"},
    "registration.seat_assigned": {
        "group_payment": "Payment cs_group_1",
        "seat": 2,
        "seats": 3,
        "payer": "gina@example.org",
        "booking": "5011",
        "by": "seat reference",
        "refunded_with_group": True,
        "because": "group payment Payment cs_group_1 was refunded in full",
    },
    "registration.seat_declined": {
        "group_payment": "Payment cs_group_1",
        "seat": 3,
        "email": "sam@example.org",
        "holds": 2,
        "booking": "5012",
        "payer": "gina@example.org",
    },
    "payment.recorded": {"payment": "Payment cs_1", "state": "unpaid", "amount": 12000, "changed": ["amount", "email"]},
    "payment.updated": {"state": "paid", "refunded_with_group": False, "manual_key": "seat:12:3", "because": "x"},
    "payment.matched": {"payment": "Payment cs_1", "by": "reference"},
    "payment.refund_recorded": {"refund": "re_1", "amount": 6000, "status": "succeeded", "payment_known": False},
    "payment.dispute_recorded": {"dispute": "dp_1", "status": "needs_response", "amount": 12000},
    "payment.merged": {"kept": "Payment cs_1", "folded": "Payment pi_1", "belongs to": "R23MNJCV9CXHB26MA"},
    "payment.seat_references_issued": {"payment": "Payment cs_1", "seats": 3, "issued": [2, 3]},
    "payment.seats_taken_over": {
        "payment": "Payment cs_new",
        "failed_payment": "Payment cs_old",
        "moved": "seat 2 (sam@example.org), seat 3 (alex@example.org)",
    },
    "payment.seats_counted": {
        "payment": "Payment cs_1",
        "seats_counted": 1,
        "counted": ["price_1Ticket ×1"],
        "left_out": ["price_1Tshirt ×1 (marked not ours)"],
        "unsure": False,
        "seats_kept": 2,
        "because": "seats of it were already handed out: settle the extra seats with the payer",
    },
    "booking.recorded": {
        "appointment": "5011",
        "starts_at": "2026-12-15T18:00:00+00:00",
        "cancelled": False,
        "changed": [],
    },
    "booking.updated": {"appointment": "5011", "starts_at": None, "cancelled": False, "changed": ["phone", "intake"]},
    "booking.matched": {"booking": "Booking 5011", "by": "email"},
    "booking.cancelled": {"appointment": "5011", "cancelled": True, "changed": ["cancelled"]},
    "booking.rescheduled": {"appointment": "5011", "starts_at": "2026-12-15T18:00:00+00:00", "changed": ["starts_at"]},
    "review.opened": {"kind": "paid_cancelled", "key": "paid_cancelled:12", "explanation": "Carl paid but cancelled."},
    "review.reopened": {"key": "duplicate:12"},
    "review.updated": {"seats": 2, "seats_now": None, "explanation": "Gina paid 240.00 USD for 2 seats."},
    "review.auto_closed": {"key": "group:12", "why": "no longer one-sided"},
    "attendee.alias_learned": {"alias": "b@example.org", "attendee": "a@example.org", "reason": "reference match"},
    "attendee.created": {"email": "a@example.org"},
    "attendee.opted_out": {"email_opt_out": True, "via": "merged with a@example.org"},
}


def test_every_audited_action_reads_in_plain_words(ops_client, event):
    from registrations.audit import audit
    from registrations.ops.timeline import ACTION_LABELS

    assert set(EVERY_ACTION) == set(ACTION_LABELS) - {"registration.status_changed"}
    start = datetime(2026, 12, 14, 18, 0, tzinfo=UTC)
    reg = _booking(880003, "booked", start, email="every.action@example.org").registration
    for action, after in EVERY_ACTION.items():
        audit(action, registration=reg, after=after)
    page = ops_client.get(reverse("ops:registration", args=[event.slug, reg.pk])).content.decode()
    for action in EVERY_ACTION:
        title = ACTION_LABELS[action]
        found = re.findall(
            rf'<span class="tl-title">{re.escape(title)}</span>.*?<span class="tl-detail">([^<]*)</span>', page, re.S
        )
        assert found, title
        for detail in found:
            text = detail.replace("&#x27;", "'").replace("&amp;", "&")
            # Ids and references stay as they are (an operator searches Stripe / Acuity with them).
            words = re.sub(r"\b(cs|pi|re|dp|ch)_\w+|seat reference", "", text)
            assert not DEVELOPER_TEXT.search(words), (action, text)
    assert "Amount: $60.00" in page and "Payment known: no" in page
    assert "Seat: 3 of group payment #12" in page and "Refunded with the group payment: no" in page
    assert "Review item: Paid but cancelled" in page and "Review item: Duplicate payment" in page
    assert "Method: Card in person" in page and "Links issued for seats: 2, 3" in page
    assert "Not seats: price_1Tshirt ×1 (marked not ours)" in page and "Seats kept: 2" in page
    (booking,) = _details(ops_client, event, reg, "Booking (booked)")
    assert booking == "for 14 Dec 2026 10:00 PST · 880003", booking


def test_a_dispute_in_the_history_reads_in_words(ops_client, world):
    from registrations.models import Registration

    reg = Registration.objects.get(attendee__email="dora.dispute@example.org")
    (detail,) = _details(ops_client, world.event, reg, "Dispute")
    assert detail == "$120.00 · needs response · fraudulent", detail


def test_a_long_history_line_is_cut_at_a_word_and_says_it_goes_on():
    """A history line longer than the page shows stopped mid-word ("… (the reminders resume with"),
    which read as if that were all of it: it now ends at a word with "…"."""
    from registrations.ops.timeline import _detail

    note = " ".join(["the reminders resume with the payment link on the usual schedule"] * 10)
    line = _detail({"note": note}, "usd", action="review.resolved.remind")
    assert len(line) <= 400
    assert line.endswith(" …")
    assert line[:-2].split()[-1] in note.split()  # a whole word before the "…"
    short = _detail({"note": "paid cash at the door"}, "usd", action="review.resolved.kept")
    assert not short.endswith("…")
