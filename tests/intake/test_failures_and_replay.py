"""When a provider API fails: retried with growing delays, then failed for an operator, then
replayed — and nothing is lost on the way. Time passing is simulated by moving the rows'
``next_attempt_at`` into the past and running the sweeper, as the schedule would."""

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_q.models import OrmQ

from integrations.models import WebhookEvent
from integrations.tasks import process_webhook, sweep_webhooks
from registrations.models import Booking, Payment, Registration, Status

from .conftest import inbox, queued_inbox_ids, run_queue

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _three_attempts(settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    settings.WEBHOOK_HTTP_TIMEOUT = 0.5


def time_passes():
    """The backoff delay elapses and the every-minute sweeper runs; then the worker runs."""
    WebhookEvent.objects.filter(status="received").update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    sweep_webhooks()
    return run_queue()


def replay(*args) -> str:
    out = StringIO()
    call_command("replay_webhooks", *args, stdout=out)
    return out.getvalue()


def test_acuity_500s_are_retried_with_growing_delays_then_failed_then_replayed(post_acuity, fake_acuity, event):
    appt = fake_acuity.add_appointment()
    post_acuity(appt)
    fake_acuity.fail_next(6, status=500)  # each attempt tries the API twice

    started = timezone.now()
    assert run_queue() == ["received"]
    row = WebhookEvent.objects.get()
    assert (row.attempts, row.status) == (1, "received")
    assert "HTTP 500" in row.last_error
    first_delay = row.next_attempt_at - started
    assert timedelta(seconds=55) < first_delay < timedelta(seconds=70)

    assert time_passes() == ["received"]
    row.refresh_from_db()
    assert row.attempts == 2
    assert row.next_attempt_at - timezone.now() > timedelta(seconds=200)  # 4 × the first delay

    assert time_passes() == ["failed"]
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", 3)
    assert "HTTP 500" in row.last_error
    assert time_passes() == []  # a failed row is left for an operator
    assert Booking.objects.count() == 0

    out = replay("--failed")

    assert "Replayed 1 delivery(ies): 1 processed." in out
    row.refresh_from_db()
    assert (row.status, row.last_error) == ("processed", "")
    assert Registration.objects.get().status == Status.BOOKED_ONLY


def test_an_acuity_timeout_is_retried_then_failed_then_replayed(post_acuity, fake_acuity, event):
    appt = fake_acuity.add_appointment()
    post_acuity(appt)
    fake_acuity.fail_next(6, delay=1.5)  # longer than the worker's 0.5 s read timeout

    assert run_queue() == ["received"]
    assert "unreachable" in WebhookEvent.objects.get().last_error
    time_passes()
    assert time_passes() == ["failed"]

    assert "1 processed" in replay("--id", WebhookEvent.objects.get().event_id)
    assert Booking.objects.get().acuity_appointment_id == str(appt["id"])


def test_wrong_acuity_credentials_fail_at_once_without_retrying(post_acuity, fake_acuity, event, settings):
    post_acuity(fake_acuity.add_appointment())
    settings.ACUITY_USER_ID = "not-the-account"

    assert run_queue() == ["failed"]
    row = WebhookEvent.objects.get()
    assert row.attempts == 1 and "authentication failed" in row.last_error


def test_stripe_api_errors_while_fetching_line_items_are_retried_then_succeed(post_stripe, fake_stripe, event):
    evt = fake_stripe.session_event(fake_stripe.add_session())
    post_stripe(evt)
    fake_stripe.fail_next(2, status=500)  # the SDK's own network retry sees both

    assert run_queue() == ["received"]
    assert inbox(evt["id"]).last_error

    assert time_passes() == ["processed"]
    assert Payment.objects.get().quantity == 1


def test_a_stripe_429_is_waited_out_inside_the_attempt(post_stripe, fake_stripe, event):
    evt = fake_stripe.session_event(fake_stripe.add_session())
    post_stripe(evt)
    fake_stripe.fail_next(1, status=429, retry_after=0.1)

    assert run_queue() == ["processed"]


def test_while_processing_is_paused_rows_stay_received_and_resume_afterwards(post_stripe, fake_stripe, event, settings):
    settings.READ_ONLY_MODE = True
    evt = fake_stripe.session_event(fake_stripe.add_session())
    assert post_stripe(evt).status_code == 200  # intake still stores

    assert run_queue() == ["paused"]
    row = inbox(evt["id"])
    assert (row.status, row.attempts) == ("received", 0)
    assert time_passes() == []  # the sweeper waits too

    settings.READ_ONLY_MODE = False
    assert time_passes() == ["processed"]


def test_the_sweeper_requeues_a_delivery_whose_task_was_lost_once(post_stripe, fake_stripe, event):
    evt = fake_stripe.session_event(fake_stripe.add_session())
    post_stripe(evt)
    OrmQ.objects.all().delete()  # the task vanished (e.g. a Redis broker lost it)
    assert sweep_webhooks() == 0  # not yet: it may still be on its way
    WebhookEvent.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))

    assert sweep_webhooks() == 1
    assert sweep_webhooks() == 0
    assert queued_inbox_ids() == [inbox(evt["id"]).pk]
    assert run_queue() == ["processed"]


def test_a_row_being_processed_is_not_run_by_a_second_worker(post_stripe, fake_stripe, event):
    evt = fake_stripe.session_event(fake_stripe.add_session())
    post_stripe(evt)
    WebhookEvent.objects.update(locked_until=timezone.now() + timedelta(seconds=60))

    assert process_webhook(inbox(evt["id"]).pk) == "running elsewhere"
    WebhookEvent.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert sweep_webhooks() == 0


def test_attempts_that_never_finish_end_in_failed(post_stripe, fake_stripe, event):
    evt = fake_stripe.session_event(fake_stripe.add_session())
    post_stripe(evt)
    # Three attempts were claimed and their workers killed by the timeout (lease expired).
    WebhookEvent.objects.update(attempts=3, locked_until=timezone.now() - timedelta(seconds=1))

    assert process_webhook(inbox(evt["id"]).pk) == "failed"
    assert "no attempt finished" in inbox(evt["id"]).last_error


def test_replay_of_an_ignored_event_stays_ignored_unless_now_accepted(post_stripe, fake_stripe, event, settings):
    evt = fake_stripe.session_event(fake_stripe.add_session(livemode=True))
    post_stripe(evt)
    assert inbox(evt["id"]).status == "ignored"

    assert "1 ignored" in replay("--id", evt["id"])
    settings.STRIPE_ACCEPT_OTHER_MODE = True
    assert "1 processed" in replay("--id", evt["id"])
    assert Payment.objects.count() == 1


def test_replay_filters_by_provider_and_age_and_can_dry_run_or_enqueue(
    post_stripe, post_acuity, fake_stripe, fake_acuity, event
):
    stripe_evt = fake_stripe.session_event(fake_stripe.add_session())
    post_stripe(stripe_evt)
    post_acuity(fake_acuity.add_appointment())
    WebhookEvent.objects.update(status="failed", last_error="earlier outage")
    WebhookEvent.objects.filter(provider="acuity").update(received_at=timezone.now() - timedelta(days=3))

    assert "Nothing to replay." in replay("--failed", "--since", "1h", "--provider", "acuity")
    dry = replay("--failed", "--since", "2d", "--dry-run")
    assert "1 delivery(ies) would be replayed" in dry and stripe_evt["id"] in dry
    assert WebhookEvent.objects.filter(status="failed").count() == 2

    assert "Queued 1 of 1" in replay("--provider", "acuity", "--enqueue")
    assert WebhookEvent.objects.get(provider="acuity").status == "received"
    with pytest.raises(CommandError):
        replay("--since", "yesterday")


def test_replay_takes_the_same_windows_as_reconcile_and_refuses_a_limit_below_one(post_stripe, fake_stripe, event):
    post_stripe(fake_stripe.session_event(fake_stripe.add_session()))
    WebhookEvent.objects.update(status="failed", received_at=timezone.now() - timedelta(days=10))
    assert "Nothing to replay." in replay("--failed", "--since", "1w", "--dry-run")
    assert "1 delivery(ies) would be replayed" in replay("--failed", "--since", "2w", "--dry-run")
    since = (timezone.now() - timedelta(days=11)).date().isoformat()
    assert "1 delivery(ies) would be replayed" in replay("--failed", "--since", since, "--dry-run")
    for limit in ("0", "-1"):
        with pytest.raises(CommandError, match="at least 1"):
            replay("--failed", "--limit", limit)


def test_replay_reports_what_still_fails(post_stripe, fake_stripe, event):
    evt = fake_stripe.session_event(fake_stripe.add_session())
    post_stripe(evt)
    WebhookEvent.objects.update(status="failed")
    fake_stripe.down()

    out = replay("--failed")

    assert "1 retry scheduled" in out
    assert inbox(evt["id"]).status == "received"


def test_replay_refuses_to_run_while_processing_is_paused(post_stripe, fake_stripe, event, settings):
    evt = fake_stripe.session_event(fake_stripe.add_session())
    post_stripe(evt)
    WebhookEvent.objects.update(status="failed")
    settings.READ_ONLY_MODE = True

    assert "1 delivery(ies) would be replayed" in replay("--failed", "--dry-run")
    with pytest.raises(CommandError, match="Read-only maintenance mode"):
        replay("--failed")
    assert inbox(evt["id"]).status == "failed"  # untouched


def test_replay_of_a_named_event_can_be_handed_to_the_worker_whatever_its_status(
    post_stripe, fake_stripe, event, settings
):
    """``--id`` picks a row in any status: ``--enqueue`` queues it as a run here would run it."""
    evt = fake_stripe.session_event(fake_stripe.add_session(livemode=True))
    post_stripe(evt)
    assert inbox(evt["id"]).status == "ignored"
    settings.STRIPE_ACCEPT_OTHER_MODE = True

    assert "Queued 1 of 1" in replay("--id", evt["id"], "--enqueue")
    assert run_queue() == ["processed"]
    assert Payment.objects.count() == 1


@pytest.mark.parametrize("provider", ["stripe", "acuity"])
def test_a_429_asking_for_a_longer_wait_than_a_task_may_run_is_retried_later_not_slept_through(
    provider, post_stripe, post_acuity, fake_stripe, fake_acuity, event, settings
):
    """A worker sleeping out Retry-After: 120 inside a task with a 60 s timeout is killed and the
    delivery waits for the sweeper; instead the attempt ends at once and the next one is due no
    earlier than the provider asked."""
    assert settings.Q_CLUSTER["timeout"] == 60
    if provider == "stripe":
        post_stripe(fake_stripe.session_event(fake_stripe.add_session()))
        fake_stripe.fail_next(1, status=429, retry_after=120)
    else:
        post_acuity(fake_acuity.add_appointment())
        fake_acuity.fail_next(1, status=429, retry_after=120)

    started = time.monotonic()
    assert run_queue() == ["received"]
    assert time.monotonic() - started < 5

    row = WebhookEvent.objects.get()
    assert (row.status, row.attempts) == ("received", 1)
    assert "429" in row.last_error and "asked to wait 120 s (Retry-After)" in row.last_error
    assert row.next_attempt_at - timezone.now() > timedelta(seconds=110)  # not the usual 60 s

    assert time_passes() == ["processed"]
