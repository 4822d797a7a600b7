"""A delivery that arrives while its inbox row waits for the retry of a failed attempt.

The Acuity API answered 500, so the row is ``received`` with its next attempt a minute (later: up
to hours) away. Acuity's body names an appointment, not a state: a new delivery of the same body
announces that the appointment changed again, so it is picked up now, not at the next backoff
slot. A Stripe event is immutable: its redelivery carries nothing new and the retry schedule
stands. A row being processed right now is left to the running attempt, as before.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from integrations.clients import AcuityClient
from integrations.models import WebhookEvent
from integrations.tasks import sweep_webhooks
from registrations.models import Booking, Payment

from .conftest import inbox, queued_inbox_ids, run_queue

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")


def at(days: int, hour: int) -> datetime:
    return (datetime.now(LA) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


def rescheduled_key(appt) -> str:
    return f"acuity:rescheduled:{appt['id']}:{appt['calendarID']}:{appt['appointmentTypeID']}"


def time_passes() -> list[str]:
    """The backoff delay elapses and the every-minute sweeper runs; then the worker runs."""
    WebhookEvent.objects.filter(status="received").update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    sweep_webhooks()
    return run_queue()


@pytest.fixture
def booked(post_acuity, fake_acuity, event):
    """An appointment already booked at the first time (its ``scheduled`` delivery processed)."""
    appt = fake_acuity.add_appointment(starts_at=at(20, 10))
    assert post_acuity(appt).status_code == 200
    assert run_queue() == ["processed"]
    return appt


@pytest.fixture
def reschedule_waiting_for_retry(booked, post_acuity, fake_acuity):
    """Acuity moved the appointment and said so; the fetch got a 500 (the client tries twice), so
    the ``rescheduled`` row waits for its retry a minute from now. Returns that row."""
    fake_acuity.reschedule(booked, at(30, 14))
    assert post_acuity(booked, "rescheduled").status_code == 200
    fake_acuity.fail_next(2, status=500)
    assert run_queue() == ["received"]
    row = inbox(rescheduled_key(booked))
    assert (row.status, row.attempts, row.locked_until) == ("received", 1, None)
    assert "HTTP 500" in row.last_error
    assert row.next_attempt_at > timezone.now() + timedelta(seconds=30)
    assert queued_inbox_ids() == []
    return row


def test_an_acuity_change_announced_while_the_row_waits_for_its_retry_is_picked_up_at_once(
    booked, reschedule_waiting_for_retry, post_acuity, fake_acuity
):
    fake_acuity.reschedule(booked, at(40, 9))  # rescheduled again: Acuity sends the same body

    response = post_acuity(booked, "rescheduled")

    assert response.status_code == 200 and response.json()["duplicate"] is True
    row = inbox(rescheduled_key(booked))
    assert queued_inbox_ids() == [row.pk]  # queued now, not at the backoff slot
    assert (row.attempts, row.deliveries) == (1, 2)  # the redelivery is not a fresh attempt budget

    assert run_queue() == ["processed"]
    assert Booking.objects.get().starts_at == at(40, 9)  # what Acuity serves now
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == ("processed", 2, "")


def test_an_acuity_redelivery_during_the_retry_wait_keeps_the_attempts_already_spent(
    booked, reschedule_waiting_for_retry, post_acuity, fake_acuity, settings
):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    fake_acuity.fail_next(2, status=500)  # Acuity is still failing

    post_acuity(booked, "rescheduled")

    assert run_queue() == ["failed"]  # the second and last attempt, not the first of a new budget
    row = inbox(rescheduled_key(booked))
    assert (row.status, row.attempts) == ("failed", 2)
    assert Booking.objects.get().starts_at == at(20, 10)


def test_a_stripe_redelivery_while_its_row_waits_for_its_retry_keeps_the_retry_schedule(
    post_stripe, fake_stripe, event
):
    evt = fake_stripe.session_event(fake_stripe.add_session())
    post_stripe(evt)
    fake_stripe.fail_next(2, status=500)  # the SDK's own network retry sees both
    assert run_queue() == ["received"]
    waiting = inbox(evt["id"])
    assert waiting.next_attempt_at > timezone.now() + timedelta(seconds=30)

    response = post_stripe(evt)

    assert response.status_code == 200 and response.json()["duplicate"] is True
    row = inbox(evt["id"])
    assert queued_inbox_ids() == []
    assert (row.status, row.attempts, row.deliveries) == ("received", 1, 2)
    assert row.next_attempt_at == waiting.next_attempt_at
    assert time_passes() == ["processed"]  # at its slot, as before
    assert Payment.objects.count() == 1


def test_an_acuity_redelivery_while_the_retry_is_running_is_left_to_the_running_attempt(
    booked, reschedule_waiting_for_retry, post_acuity, fake_acuity, monkeypatch
):
    seen = {}
    real = AcuityClient.get_appointment

    def get_appointment(self, appointment_id):
        answer = real(self, appointment_id)
        if not seen:  # the retry has fetched 14:00 on day 30; Acuity moves it and says so
            fake_acuity.reschedule(booked, at(40, 9))
            leased = inbox(rescheduled_key(booked))
            assert leased.locked_until > timezone.now()
            response = post_acuity(booked, "rescheduled")
            row = inbox(rescheduled_key(booked))
            seen.update(
                duplicate=response.json()["duplicate"],
                queued=queued_inbox_ids(),
                unchanged=(row.next_attempt_at, row.locked_until, row.attempts)
                == (leased.next_attempt_at, leased.locked_until, leased.attempts),
            )
        return answer

    monkeypatch.setattr(AcuityClient, "get_appointment", get_appointment)

    # The running retry sees ``deliveries`` move and queues the row again instead of finishing it.
    assert time_passes() == ["received"]
    assert seen == {"duplicate": True, "queued": [], "unchanged": True}
    row = inbox(rescheduled_key(booked))
    assert queued_inbox_ids() == [row.pk]
    assert run_queue() == ["processed"]
    assert Booking.objects.get().starts_at == at(40, 9)
