"""A registration's history gives money as the rest of the operator pages do ("$120.00"), not as
the audit trail stores it ("120.00 USD"): the table above it said "$120.00" and its history
"Amount: 120.00 USD" for the same payment. Stored audit rows are not rewritten; they are read in
the page's format."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from registrations.audit import audit
from registrations.models import AuditLog, Registration

pytestmark = pytest.mark.django_db


def _history(client, event, reg) -> str:
    page = client.get(reverse("ops:registration", args=[event.slug, reg.pk])).content.decode()
    ol = re.search(r'<ol class="timeline">(.*?)</ol>', page, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", ol).replace("&#x27;", "'").replace("&amp;", "&").split())


def test_the_history_gives_a_payment_and_its_dispute_as_the_page_does(ops_client, world):
    reg = Registration.objects.get(attendee__email="dora.dispute@example.org")
    history = _history(ops_client, world.event, reg)
    assert "$120.00 · needs response · fraudulent" in history, history  # the dispute line
    assert re.search(r"\w+ payment, \w+ by \w+ \$120\.00 · ", history), history  # the payment line
    assert "Amount: $120.00" in history, history  # an audit row's amount
    assert not re.search(r"\d USD\b", history), history


def test_an_explanation_stored_in_an_audit_row_reads_in_the_page_format_and_stays_stored(ops_client, world):
    reg = Registration.objects.get(attendee__email="dora.dispute@example.org")
    row = audit("review.updated", registration=reg, after={"seats": 2, "explanation": "Gina paid 240.00 USD for 2."})
    history = _history(ops_client, world.event, reg)
    assert "Why: Gina paid $240.00 for 2." in history, history
    assert AuditLog.objects.get(pk=row.pk).after["explanation"] == "Gina paid 240.00 USD for 2."
