import pytest

from registrations.models import EventMapping
from tests.factories import EventFactory

from .builders import ATYPE, PLINK


@pytest.fixture
def event(db):
    ev = EventFactory(slug="spring-retreat", name="Spring Retreat", price=12000)
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PAYMENT_LINK, value=PLINK, event=ev)
    EventMapping.objects.create(kind=EventMapping.Kind.ACUITY_APPOINTMENT_TYPE, value=ATYPE, event=ev)
    return ev
