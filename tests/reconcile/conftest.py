import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from integrations.models import ReconcileRun
from registrations.models import EventMapping
from tests.factories import EventFactory

PLINK = "plink_1SampleSpring"  # FakeStripe.add_session's default payment link
ATYPE = 4440001  # FakeAcuity.add_appointment's default appointment type
TZ = ZoneInfo("America/Los_Angeles")


@pytest.fixture
def event(db):
    ev = EventFactory(slug="spring-retreat", name="Spring Retreat", price=12000)
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PAYMENT_LINK, value=PLINK, event=ev)
    EventMapping.objects.create(kind=EventMapping.Kind.ACUITY_APPOINTMENT_TYPE, value=str(ATYPE), event=ev)
    return ev


@pytest.fixture
def providers(fake_stripe, fake_acuity):
    return fake_stripe, fake_acuity


def day(offset_days: int, hour: int = 10) -> datetime:
    return (datetime.now(TZ) + timedelta(days=offset_days)).replace(hour=hour, minute=0, second=0, microsecond=0)


class Result:
    def __init__(self, run, out, err, error):
        self.run, self.out, self.err, self.error = run, out, err, error

    def counts(self, slug="spring-retreat", provider=None):
        c = self.run.counts.get(slug, {})
        return c.get(provider, {}) if provider else c


def run_command(*args, expect_ok=True, name="reconcile") -> Result:
    """Run a management command; return the ReconcileRun it stored and its output."""
    out, err = io.StringIO(), io.StringIO()
    before = set(ReconcileRun.objects.values_list("pk", flat=True))
    error = None
    try:
        call_command(name, *args, stdout=out, stderr=err)
    except CommandError as exc:
        error = exc
        if expect_ok:
            raise
    run = ReconcileRun.objects.exclude(pk__in=before).order_by("-pk").first()
    return Result(run, out.getvalue(), err.getvalue(), error)
