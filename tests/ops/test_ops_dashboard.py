"""The dashboard: upcoming events first, each with counts per status, seats paid / booked /
capacity, gross / refunded / net, a server-drawn chart, open review items, and the time of the
last webhook per provider (a warning when a sales provider is silent for 3 days while an event
is on sale)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.models import WebhookEvent
from tests.factories import EventFactory

from .scenario import book, pay

pytestmark = pytest.mark.django_db


def dashboard(client):
    response = client.get(reverse("ops:dashboard"))
    assert response.status_code == 200
    return response.content.decode()


def card_of(page, slug):
    match = re.search(rf'<article class="event-card panel" data-event="{slug}">(.*?)</article>', page, re.S)
    assert match, slug
    return match.group(1)


def test_no_events_shows_how_to_create_one(ops_client, db):
    page = dashboard(ops_client)
    assert "No events yet" in page
    assert "/admin/registrations/event/add/" in page and "manage.py import_events" in page


def test_upcoming_events_come_first_soonest_first_then_past_latest_first(ops_client, db):
    now = timezone.now()
    EventFactory(slug="later", starts_at=now + timedelta(days=60))
    EventFactory(slug="soon", starts_at=now + timedelta(days=3))
    EventFactory(slug="last-month", starts_at=now - timedelta(days=30))
    EventFactory(slug="last-year", starts_at=now - timedelta(days=365))
    page = dashboard(ops_client)
    order = re.findall(r'data-event="([^"]+)"', page)
    assert order == ["soon", "later", "last-month", "last-year"]
    assert page.index("Upcoming") < page.index("soon") < page.index("Past") < page.index("last-month")


def test_an_event_card_has_counts_seats_money_chart_and_open_items(ops_client, world):
    card = card_of(dashboard(ops_client), world.event.slug)
    assert "Complete <strong>" in card and "Needs review <strong>" in card
    assert "6 cases to review" not in card  # the unmatched item has no event yet
    assert "5 cases to review (6 registrations)" in card  # the suggested pair is one case, two people
    # Seats: calm, pat, river, gina×3, dana×2, carl, dora = 10 paid; 7 live bookings (carl cancelled).
    assert "<dd>10 / 7 / 40</dd>" in card
    # Gross: 120 each for calm, pat, river, dana×2, carl, dora + 360 for gina = 1,200.
    assert "$1,200.00" in card
    assert "<svg" in card and 'aria-label="Registrations by status:' in card


def test_refunds_show_as_refunded_and_reduce_net(ops_client, event):
    from registrations.services import apply_payment
    from registrations.signals import PaymentSignal

    result = pay("r@example.org", "R")
    apply_payment(
        PaymentSignal(
            status="refunded",
            charge_id=result.fact.charge_id,
            payment_intent_id=result.fact.payment_intent_id,
            amount_refunded=2000,
        )
    )
    card = card_of(dashboard(ops_client), event.slug)
    assert "<dt>Gross</dt><dd>$120.00</dd>" in card
    assert "<dt>Refunded</dt><dd>$20.00</dd>" in card
    assert "<dt>Net</dt><dd><strong>$100.00</strong></dd>" in card


def test_complimentary_walk_ins_add_nothing_to_gross(ops_client, event, operator):
    from registrations.audit import Actor
    from registrations.services import enter_walk_in

    enter_walk_in(
        event=event, email="c@example.org", name="C", method="complimentary", amount=0, actor=Actor.operator(operator)
    )
    card = card_of(dashboard(ops_client), event.slug)
    assert "<dt>Gross</dt><dd>$0.00</dd>" in card and "<dd>1 / 1 / 40</dd>" in card


def test_last_webhook_per_provider_and_a_warning_when_stripe_is_silent(ops_client, event):
    now = timezone.now()
    WebhookEvent.objects.create(provider="stripe", event_id="evt_old", body="{}", received_at=now - timedelta(days=4))
    WebhookEvent.objects.create(provider="acuity", event_id="a1", body="", received_at=now - timedelta(hours=2))
    page = dashboard(ops_client)
    assert "No Stripe webhook for 4 days while an event is on sale" in page
    assert "last webhook 2 h ago" in page
    assert "No Acuity webhook" not in page


def test_no_silence_warning_when_nothing_is_on_sale(ops_client, db):
    EventFactory(slug="done", starts_at=timezone.now() - timedelta(days=10))
    page = dashboard(ops_client)
    assert "while an event is on sale" not in page
    assert "last webhook never" in page


def test_only_the_latest_past_events_are_listed_until_asked(ops_client, db):
    now = timezone.now()
    for n in range(8):
        EventFactory(slug=f"past-{n}", starts_at=now - timedelta(days=10 + n))
    page = dashboard(ops_client)
    assert page.count('class="event-card panel"') == 6
    assert "Show 2 older events" in page
    page = ops_client.get(reverse("ops:dashboard") + "?past=all").content.decode()
    assert page.count('class="event-card panel"') == 8


def test_signals_without_an_event_are_pointed_out(ops_client, event):
    pay("x@example.org", "X", plink="plink_unmapped")
    book("x@example.org", "X", event=event)
    page = dashboard(ops_client)
    assert "1 signal not tied to any event" in page
