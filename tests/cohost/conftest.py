"""Co-host test world, built through the real domain functions (apply_payment / apply_booking).

Personas: alice co-hosts the "Spring retreat" (money hidden), bob co-hosts the "Autumn retreat";
each event has a complete attendee, one who paid but did not book, and one who booked but did
not pay. Every attendee email is unique to its event, so a leak is a plain substring check.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone
from sesame.utils import get_token

from registrations.models import EventMapping, Registration
from registrations.services import add_mapping, apply_booking, apply_payment
from registrations.signals import BookingSignal, PaymentSignal
from tests.factories import CoHostGrantFactory, EventFactory

AMOUNT = 12345  # shows as "123.45": distinctive, so "money visible" is a substring check
AMOUNT_TEXT = "123.45"
_ids = itertools.count(1000)


def pay(event, email, name, amount=AMOUNT, **extra):
    n = next(_ids)
    fields = dict(
        status="paid",
        source_id=f"cs_test_{n}",
        checkout_session_id=f"cs_test_{n}",
        payment_intent_id=f"pi_test_{n}",
        charge_id=f"ch_test_{n}",
        event_keys=(("stripe_payment_link", f"plink_{event.slug}"),),
        email=email,
        name=name,
        amount=amount,
        currency="usd",
        quantity=1,
        occurred_at=timezone.now(),
        raw_ref=f"evt_{n}",
    )
    fields.update(extra)
    return apply_payment(PaymentSignal(**fields))


def book(event, email, first, last="", intake=None, starts_at=None):
    n = next(_ids)
    return apply_booking(
        BookingSignal(
            status="booked",
            source_id=str(n),
            event_keys=(("acuity_appointment_type", f"type-{event.slug}"),),
            email=email,
            first_name=first,
            last_name=last,
            phone="+15035550100",
            starts_at=starts_at or event.starts_at,
            timezone=event.timezone,
            intake=intake or {},
            occurred_at=timezone.now(),
            raw_ref=f"acuity-{n}",
        )
    )


def map_event(event):
    add_mapping(EventMapping.Kind.STRIPE_PAYMENT_LINK, f"plink_{event.slug}", event)
    add_mapping(EventMapping.Kind.ACUITY_APPOINTMENT_TYPE, f"type-{event.slug}", event)


@dataclass
class Side:
    cohost: object
    event: object
    emails: list = field(default_factory=list)

    @property
    def registration(self):
        return Registration.objects.filter(event=self.event).order_by("pk").first()


@dataclass
class World:
    alice: Side
    bob: Side
    staff: User


def populate(event, prefix):
    """Three attendees on ``event``: complete, paid-only, booked-only."""
    emails = [f"{prefix}.complete@example.org", f"{prefix}.paidonly@example.org", f"{prefix}.bookedonly@example.org"]
    pay(event, emails[0], f"{prefix.title()} Complete")
    book(event, emails[0], prefix.title(), "Complete", intake={"Dietary needs": f"{prefix} vegan"})
    pay(event, emails[1], f"{prefix.title()} Paidonly")
    book(event, emails[2], prefix.title(), "Bookedonly")
    return emails


@pytest.fixture
def world(db):
    spring = EventFactory(name="Spring retreat", slug="spring-retreat", location="North meadow")
    autumn = EventFactory(name="Autumn retreat", slug="autumn-retreat", location="South lodge")
    for event in (spring, autumn):
        map_event(event)
    alice = CoHostGrantFactory(event=spring, cohost__user__email="alice@example.net").cohost
    bob = CoHostGrantFactory(event=autumn, cohost__user__email="bob@example.net").cohost
    staff = User.objects.create_user("operator", "operator@example.net", "pw-operator-123", is_staff=True)
    return World(
        alice=Side(alice, spring, populate(spring, "spring")),
        bob=Side(bob, autumn, populate(autumn, "autumn")),
        staff=staff,
    )


def sign_in(client, cohost, token=None):
    token = token or get_token(cohost.user, scope="cohost")
    return client.post(reverse("cohost:auth"), {"t": token})


@pytest.fixture
def old_token(monkeypatch):
    """A token made ``seconds`` ago (sesame stamps tokens with time.time())."""

    import time as real_time
    from types import SimpleNamespace

    import sesame.tokens_v2 as tokens

    def make(user, seconds, scope="cohost"):
        with monkeypatch.context() as patch:
            patch.setattr(tokens, "time", SimpleNamespace(time=lambda: real_time.time() - seconds))
            return get_token(user, scope=scope)

    return make


@pytest.fixture(autouse=True)
def _cohost_settings(settings):
    settings.COHOST_LOGIN_MIN_SECONDS = 0
    settings.PUBLIC_BASE_URL = "https://jlf.example"
    settings.ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1", "jlf.example"]


__all__ = ["AMOUNT", "AMOUNT_TEXT", "book", "pay", "sign_in", "timedelta"]
