"""Fixtures for webhook intake: an event mapped to the fakes' default payment link / price /
appointment type, and helpers that POST correctly signed deliveries and run queued processing."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from integrations.models import WebhookEvent
from integrations.tasks import process_webhook
from registrations.models import EventMapping
from tests.factories import EventFactory
from tests.fakes import acuity as acuity_fake
from tests.fakes import stripe as stripe_fake

PLINK = "plink_1SampleSpring"
PRICE = "price_1SampleSpring"
ATYPE = 4440001
SECRET = "whsec_test_secret"


@pytest.fixture(autouse=True)
def _intake_settings(settings):
    settings.WEBHOOK_HTTP_TIMEOUT = 1.0
    settings.STRIPE_LIVEMODE = False
    settings.STRIPE_ACCEPT_OTHER_MODE = False
    settings.READ_ONLY_MODE = False


@pytest.fixture
def event(db):
    ev = EventFactory(slug="spring-retreat", name="Spring Retreat", price=12000)
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PAYMENT_LINK, value=PLINK, event=ev)
    EventMapping.objects.create(kind=EventMapping.Kind.ACUITY_APPOINTMENT_TYPE, value=str(ATYPE), event=ev)
    return ev


def stripe_headers(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> dict:
    return {"HTTP_STRIPE_SIGNATURE": stripe_fake.sign(body, secret, timestamp)}


@pytest.fixture
def post_stripe(client, fake_stripe):
    """POST a Stripe event (dict) or raw body, signed with the configured secret unless
    ``headers`` are given."""

    def post(evt, *, headers: dict | None = None, secret: str = SECRET, timestamp: int | None = None, c=None):
        body = evt if isinstance(evt, bytes) else fake_stripe.body(evt)
        if headers is None:
            headers = stripe_headers(body, secret, timestamp)
        return (c or client).post(
            reverse("integrations:stripe-webhook"), data=body, content_type="application/json", **headers
        )

    return post


@pytest.fixture
def post_acuity(client, fake_acuity):
    def post(appt_or_body, action: str = "scheduled", *, signature: str | None = None, c=None):
        body = appt_or_body if isinstance(appt_or_body, bytes) else acuity_fake.webhook_body(appt_or_body, action)
        sig = acuity_fake.sign(body, fake_acuity.api_key) if signature is None else signature
        headers = {"HTTP_X_ACUITY_SIGNATURE": sig} if sig else {}
        return (c or client).post(
            reverse("integrations:acuity-webhook"),
            data=body,
            content_type="application/x-www-form-urlencoded",
            **headers,
        )

    return post


def queued_inbox_ids() -> list[int]:
    """Inbox ids of the processing tasks waiting in django-q2's ORM queue."""
    ids = []
    for q in OrmQ.objects.order_by("pk"):
        task = SignedPackage.loads(q.payload)
        if task["func"] == "integrations.tasks.process_webhook":
            if task["args"]:
                ids.append(task["args"][0])
            else:  # queued by the view as (provider, event_id)
                kw = task["kwargs"]
                ids.append(WebhookEvent.objects.get(provider=kw["provider"], event_id=kw["event_id"]).pk)
    return ids


def run_queue() -> list[str]:
    """What a worker does: run every queued processing task once, with the arguments it was
    queued with, and acknowledge it (delete the queue row)."""
    outcomes = []
    for q in OrmQ.objects.order_by("pk"):
        task = SignedPackage.loads(q.payload)
        q.delete()
        if task["func"] == "integrations.tasks.process_webhook":
            outcomes.append(process_webhook(*task["args"], **task["kwargs"]))
    return outcomes


def inbox(event_id: str) -> WebhookEvent:
    return WebhookEvent.objects.get(event_id=event_id)
