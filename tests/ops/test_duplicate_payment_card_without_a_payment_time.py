"""A payment whose time was never recorded (occurred_at is None) reads cleanly on the queue
cards: the duplicate-payment card's "First payment"/"Second payment" lines do not end in a
dangling "·", and a paid-but-cancelled refund form does not read "payment of )"."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime

import pytest
from django.urls import reverse

from registrations.models import Payment, ReviewItem

from .scenario import book, make_event, pay

pytestmark = pytest.mark.django_db


def _dd(page: str, label: str) -> str:
    return re.search(rf"<dt>{label}</dt><dd>(.*?)</dd>", page, re.S).group(1)


def test_duplicate_payment_card_without_payment_times_has_no_dangling_separator(ops_client, world):
    item = ReviewItem.objects.get(kind="duplicate_payment", state=ReviewItem.State.OPEN)
    Payment.objects.filter(registration=item.registration).update(occurred_at=None)

    page = ops_client.get(reverse("ops:queue") + "?kind=duplicate_payment").content.decode()

    for label in ("First payment", "Second payment"):
        line = _dd(page, label).strip()
        assert line and line != "—", line
        assert not line.endswith("·"), line
        assert "·  ·" not in line and "· ·" not in line, line


def test_paid_but_cancelled_refund_form_without_a_payment_time_names_the_payment(ops_client, operator):
    event = make_event()
    pay("two.payments@example.org", "Two Payments")
    pay("two.payments@example.org", "Two Payments")
    tz = zoneinfo.ZoneInfo(event.timezone)
    first, second = Payment.objects.order_by("pk")
    Payment.objects.filter(pk=first.pk).update(occurred_at=datetime(2026, 11, 20, 10, 0, tzinfo=tz))
    Payment.objects.filter(pk=second.pk).update(occurred_at=None)
    book("two.payments@example.org", "Two", "Payments", source_id=9302)
    book("two.payments@example.org", "Two", "Payments", source_id=9302, status="cancelled")
    assert ReviewItem.objects.filter(kind="paid_cancelled", state=ReviewItem.State.OPEN).exists()

    page = ops_client.get(reverse("ops:queue") + "?kind=paid_cancelled").content.decode()

    labels = [re.sub(r"\s+", " ", m) for m in re.findall(r"<label>(Refund amount[^<]*)<input", page)]
    assert len(labels) == 2, labels
    assert any("payment of 20 Nov" in label for label in labels), labels
    for label in labels:
        assert "payment of )" not in label and "of )" not in label, label
    assert any(f"payment #{second.pk}" in label for label in labels), labels
