"""Processing stored Acuity deliveries: the API's answer is the truth."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from integrations.models import WebhookEvent
from registrations.models import AuditLog, Booking, Registration, Status

from .conftest import run_queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def deliver(post_acuity):
    def deliver(appt, action="scheduled"):
        assert post_acuity(appt, action).status_code == 200
        return run_queue()

    return deliver


def test_a_scheduled_appointment_is_fetched_and_booked(deliver, fake_acuity, event):
    appt = fake_acuity.add_appointment(email="river.stone@example.org", intake={4001: ("Dietary needs", "vegan")})

    assert deliver(appt) == ["processed"]

    booking = Booking.objects.get()
    assert booking.acuity_appointment_id == str(appt["id"])
    assert booking.intake == {"Dietary needs": "vegan"}
    assert booking.starts_at == datetime.fromisoformat(appt["datetime"])
    assert Registration.objects.get().status == Status.BOOKED_ONLY
    assert AuditLog.objects.filter(action="booking.recorded", actor_source__startswith="webhook:acuity:").exists()


def test_a_dynamic_webhook_spelling_is_processed_the_same(deliver, fake_acuity, event):
    assert deliver(fake_acuity.add_appointment(), "appointment.scheduled") == ["processed"]
    assert Registration.objects.get().status == Status.BOOKED_ONLY


def test_a_cancellation_that_arrives_before_the_booking_still_ends_cancelled(deliver, fake_acuity, event):
    appt = fake_acuity.add_appointment()
    fake_acuity.cancel(appt)  # by the time either delivery is processed, Acuity says cancelled

    deliver(appt, "canceled")
    deliver(appt, "scheduled")

    assert Booking.objects.get().cancelled is True
    assert Registration.objects.get().status == Status.CANCELLED


def test_a_reschedule_moves_the_booking_to_the_time_the_api_reports(deliver, fake_acuity, event):
    appt = fake_acuity.add_appointment()
    deliver(appt)
    new_time = (datetime.now(ZoneInfo("America/Los_Angeles")) + timedelta(days=40)).replace(
        hour=14, minute=0, second=0, microsecond=0
    )
    fake_acuity.reschedule(appt, new_time)

    deliver(appt, "appointment.rescheduled")

    assert Booking.objects.get().starts_at == new_time
    assert Registration.objects.get().status == Status.BOOKED_ONLY


def test_an_appointment_acuity_no_longer_has_is_processed_as_not_found(post_acuity, fake_acuity, event):
    appt = fake_acuity.add_appointment()
    post_acuity(appt)
    del fake_acuity.appointments[appt["id"]]

    assert run_queue() == ["processed"]
    row = WebhookEvent.objects.get()
    assert row.result.startswith("appointment not found")
    assert Booking.objects.count() == 0
