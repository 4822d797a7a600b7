"""The dashboard card and the event page show two review numbers side by side: the orange badge
counts queue cases, the status legend counts registrations. A suggested pair is one case holding
two registrations, so the two numbers differ; each must say what it counts, and the registrations
the badge mentions must be the legend's "Needs review" number."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from registrations.models import Registration, ReviewItem, Status

from .scenario import book, make_event, pay

pytestmark = pytest.mark.django_db


def _pair_case():
    event = make_event()
    pay("river@example.org", "River Stone", phone="+14155550101")
    book("r.stone@work.example", "River", "Stone", phone="+14155550101", event=event)
    item = ReviewItem.objects.get(state=ReviewItem.State.OPEN)
    assert item.kind == ReviewItem.Kind.SUGGESTED_MATCH and item.counterpart_id
    assert Registration.objects.filter(event=event, status=Status.NEEDS_REVIEW).count() == 2
    return event


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_a_pair_case_reads_as_one_case_of_two_registrations_on_the_dashboard_card(ops_client):
    event = _pair_case()
    page = ops_client.get(reverse("ops:dashboard")).content.decode()
    card = re.search(rf'data-event="{event.slug}">(.*?)</article>', page, re.S).group(1)
    text = _text(card)
    assert "1 case to review (2 registrations)" in text, text
    assert "Needs review 2" in text
    assert "registrations by status" in text
    assert "1 to review" not in text.replace("1 case to review", "")


def test_a_pair_case_reads_as_one_case_of_two_registrations_on_the_event_page(ops_client):
    event = _pair_case()
    page = ops_client.get(reverse("ops:event", args=[event.slug])).content.decode()
    head = _text(page.split('<section class="panel summary"', 1)[0])
    assert "1 case to review (2 registrations)" in head, head
    summary = _text(page.split('<section class="panel summary"', 1)[1].split("</section>", 1)[0])
    assert "Needs review 2" in summary and "registrations by status" in summary
