"""A friend's seat of a group payment, in the friend's history: the payment's own entry and its
audit rows say "seat 2 of payment #N, paid by <payer>" (not the internal key ``seat:N:2``), and
what matched a payment to its event reads "Matched by: payment link plink_…", never "Event keys"."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from registrations.audit import Actor
from registrations.models import Payment, SeatReference
from registrations.seats import issue_seat_references

from .scenario import PLINK, book, pay

pytestmark = pytest.mark.django_db


def _history(client, event, reg) -> str:
    page = client.get(reverse("ops:registration", args=[event.slug, reg.pk])).content.decode()
    details = re.findall(r'<span class="tl-detail">([^<]*)</span>', page)
    return "\n".join(d.replace("&#x27;", "'").replace("&amp;", "&").replace("&quot;", '"') for d in details)


def test_a_seat_holders_history_names_the_seat_and_the_payer_not_the_internal_key(ops_client, event):
    pay("gina.group@example.org", "Gina Group", amount=24000, quantity=2)
    book("gina.group@example.org", "Gina", "Group")
    group = Payment.objects.get(method=Payment.Method.STRIPE)
    issue_seat_references(group, Actor.system("handoff"))
    ref = SeatReference.objects.get(payment=group, seat=2).reference
    friend = book("sam.seat@example.org", "Sam", "Seat", intake={"ref": ref}).registration
    assert Payment.objects.filter(method=Payment.Method.GROUP_SEAT, registration=friend).exists()

    history = _history(ops_client, event, friend)
    assert "seat:" not in history, history
    assert f"seat 2 of payment #{group.pk}, paid by Gina Group" in history, history


def test_a_payment_entry_says_what_matched_it_to_the_event_in_words(ops_client, event):
    reg = pay("mona.match@example.org", "Mona Match").registration
    Payment.objects.filter(registration=reg).update(
        mapping_keys=[["stripe_payment_link", PLINK], ["stripe_price", "price_spring"]]
    )
    from registrations.audit import audit

    audit("payment.updated", registration=reg, after={"state": "paid", "changed": ["mapping_keys"]})

    history = _history(ops_client, event, reg)
    assert "Event keys" not in history and "stripe_" not in history, history
    assert f"Matched by: payment link {PLINK}, Stripe price price_spring" in history, history
    assert "Changed: Matched by" in history, history
