"""Fixtures for the handoff pages: one mapped event, the fakes, and helpers that play the
attendee's part (follow the redirect, book through the prefilled link)."""

from urllib.parse import parse_qs, urlsplit

import pytest

from registrations.models import Event, EventMapping
from tests.factories import EventFactory

PLINK = "plink_1SampleSpring"
ATYPE = 4440001
REF_FIELD = 9001
ACUITY_URL = "https://app.acuityscheduling.com/schedule.php?owner=21991"
STRIPE_URL = "https://buy.stripe.com/test_spring"


@pytest.fixture(autouse=True)
def _handoff_settings(settings):
    settings.PUBLIC_BASE_URL = "https://reg.example.org"
    settings.HANDOFF_PROVIDER_TIMEOUT = 2.0


@pytest.fixture
def event(db):
    ev = EventFactory(
        slug="spring-retreat",
        name="Spring Retreat",
        price=12000,
        acuity_scheduling_url=ACUITY_URL,
        stripe_payment_link_url=STRIPE_URL,
        acuity_reference_field_id=str(REF_FIELD),
    )
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PAYMENT_LINK, value=PLINK, event=ev)
    EventMapping.objects.create(kind=EventMapping.Kind.ACUITY_APPOINTMENT_TYPE, value=str(ATYPE), event=ev)
    return ev


@pytest.fixture
def donation_event(db):
    ev = EventFactory(
        slug="forest-sit",
        name="Forest Sit",
        kind=Event.Kind.DONATION,
        price=None,
        acuity_scheduling_url="https://app.acuityscheduling.com/schedule.php?owner=21991",
        stripe_payment_link_url="https://donate.stripe.com/test_forest",
        acuity_reference_field_id=str(REF_FIELD),
    )
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PAYMENT_LINK, value="plink_forest", event=ev)
    EventMapping.objects.create(kind=EventMapping.Kind.ACUITY_APPOINTMENT_TYPE, value="4440002", event=ev)
    return ev


def query(url: str) -> dict:
    """The query of ``url`` as {key: value} (single values unwrapped)."""
    return {k: v[0] if len(v) == 1 else v for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def book_through(fake_acuity, link: str, *, email: str, first="River", last="Stone", atype=ATYPE, **kw) -> dict:
    """What Acuity stores when someone books through ``link``: the hidden reference field is
    carried over from the link (``field:<id>``); the typed email can differ from the prefill."""
    q = query(link)
    ref = q.get(f"field:{REF_FIELD}", "")
    intake = {4001: ("Dietary needs", "none")}
    if ref:
        intake[REF_FIELD] = ("Registration reference", ref)
    return fake_acuity.add_appointment(
        email=email, first_name=first, last_name=last, appointment_type_id=atype, intake=intake, **kw
    )
