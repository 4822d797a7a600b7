"""A registration's history and its hand-marking forms speak the operator's words: statuses as
the list shows them, amounts with their currency."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from registrations.models import Registration

pytestmark = pytest.mark.django_db


def test_a_status_change_in_the_history_reads_like_the_status_column(ops_client, world):
    reg = Registration.objects.get(attendee__email="calm.complete@example.org")
    page = ops_client.get(reverse("ops:registration", args=[world.event.slug, reg.pk])).content.decode()
    changes = re.findall(r"Status changed</span>.*?<span class=\"tl-detail\">([^<]*)</span>", page, re.S)
    assert changes
    assert any("→ Complete" in change for change in changes), changes
    for change in changes:
        for code in ("paid_only", "booked_only", "needs_review", "pending", "complete"):
            assert code not in change, change


def test_the_mark_paid_form_says_which_currency_the_amount_is_in(ops_client, world):
    reg = Registration.objects.get(attendee__email="bo.bookedonly@example.org")
    page = ops_client.get(reverse("ops:registration", args=[world.event.slug, reg.pk])).content.decode()
    assert "Mark paid by hand" in page
    assert re.search(r"<label>Amount \(USD\)", page), "the amount field does not name its currency"
