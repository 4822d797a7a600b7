from datetime import timedelta

import pytest
from django.utils import timezone

from registrations.models import EventMapping, Registration, Status
from tests.factories import AttendeeFactory, EventFactory, RegistrationFactory

PLINK = "plink_spring"
ATYPE = "4440001"
REF_FIELD = "7001"


@pytest.fixture
def event(db):
    # Quiet hours off (start == end) so tests do not depend on the time of day they run at;
    # quiet hours have their own tests with an explicit clock.
    ev = EventFactory(
        slug="spring-retreat",
        name="Spring Retreat",
        quiet_hours_start=0,
        quiet_hours_end=0,
        sms_enabled=True,
        acuity_reference_field_id=REF_FIELD,
        stripe_payment_link_url="https://buy.stripe.com/test_spring",
        acuity_scheduling_url="https://app.acuityscheduling.com/schedule.php?owner=1",
    )
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PAYMENT_LINK, value=PLINK, event=ev)
    EventMapping.objects.create(kind=EventMapping.Kind.ACUITY_APPOINTMENT_TYPE, value=ATYPE, event=ev)
    return ev


def make_registration(
    event,
    status=Status.PAID_ONLY,
    *,
    hours_ago: float = 48,
    email: str | None = None,
    name: str = "River Stone",
    phone: str = "",
    **attendee_fields,
) -> Registration:
    """A registration in ``status`` since ``hours_ago`` (test data, written directly)."""
    kwargs = {"name": name, "phone": phone, **attendee_fields}
    if email is not None:
        kwargs["email"] = email
    attendee = AttendeeFactory(**kwargs)
    reg = RegistrationFactory(event=event, attendee=attendee)
    Registration.objects.filter(pk=reg.pk).update(
        status=status, status_changed_at=timezone.now() - timedelta(hours=hours_ago)
    )
    reg.refresh_from_db()
    return reg


@pytest.fixture
def one_sided(event):
    def build(status=Status.PAID_ONLY, **kw):
        return make_registration(event, status, **kw)

    return build
