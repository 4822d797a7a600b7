"""Fault: Stripe and Acuity are unreachable for a while, then come back.

Deliveries keep being accepted (the view never calls a provider); their processing fails in the
worker, is retried with the intake's backoff (WEBHOOK_RETRY_BASE_SECONDS × 4^(n-1), here with a
1-second base instead of a minute), and finishes once the providers answer again. Nothing is
lost, nothing is given up as failed, nothing is applied twice.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
from django.conf import settings

from integrations.models import WebhookEvent
from registrations.models import AuditLog, Booking, Payment

from .conftest import database_url, requires_postgres
from .helpers import Deliveries, app_env, new_person, seed_event, start_sweeper, start_worker, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), requires_postgres]

RECEIVED = WebhookEvent.Status.RECEIVED
RETRY_LINE = re.compile(r"attempt (\d+) failed, next in (\d+)s")


def rows() -> list[WebhookEvent]:
    return list(WebhookEvent.objects.all())


def test_providers_down_for_a_while_deliveries_are_retried_with_backoff_and_all_processed(
    live_server, processes, fake_stripe, fake_acuity
):
    seed_event()
    env = app_env(
        database_url(),
        settings.SECRET_KEY,
        stripe=fake_stripe,
        acuity=fake_acuity,
        WEBHOOK_RETRY_BASE_SECONDS=1,
        WEBHOOK_HTTP_TIMEOUT=2,
    )
    worker = start_worker(processes, env)
    sweeper = start_sweeper(processes, env)
    post = Deliveries(live_server.url, fake_stripe, fake_acuity)

    fake_stripe.down()
    fake_acuity.down()
    deliveries = []
    for i in range(8):
        person = new_person()
        deliveries.append(post.new_stripe(person))
        if i % 2:
            deliveries.append(post.new_acuity(person))
    assert [post.post(d) for d in deliveries] == [200] * 12, "deliveries are accepted while the providers are down"

    # Every delivery is tried and fails; some are tried again after the backoff and fail again.
    def retrying():
        current = rows()
        return (
            all(r.attempts >= 1 and r.locked_until is None for r in current)
            and sum(r.attempts >= 2 for r in current) >= 3
        )

    wait_until(retrying, 90, "every delivery to fail at least once and a few twice", watch=[worker, sweeper])
    during = rows()
    assert {r.status for r in during} == {RECEIVED}, "a provider outage is never a reason to give up"
    assert all(r.last_error for r in during)
    assert {r.provider for r in during if "stripe" in r.last_error} == {"stripe"}
    assert {r.provider for r in during if "acuity" in r.last_error} == {"acuity"}
    tried = (len(fake_stripe.requests), len(fake_acuity.requests))

    # They come back, a little flaky at first (one 500 each, which the clients retry themselves).
    fake_stripe.fail_next(1, status=500)
    fake_acuity.fail_next(1, status=500)
    fake_stripe.up()
    fake_acuity.up()
    wait_until(
        lambda: not WebhookEvent.objects.exclude(status=WebhookEvent.Status.PROCESSED).exists(),
        90,
        "every delivery to be processed once the providers are back",
        watch=[worker, sweeper],
    )

    after = {r.event_id: r for r in rows()}
    assert set(after) == {d.event_id for d in deliveries}
    attempts = Counter(r.attempts for r in after.values())
    assert min(attempts) >= 2 and max(attempts) <= 4, f"retried with backoff, not hammered: {attempts}"
    assert tried[0] > 0 and tried[1] > 0

    # The delays grew as the intake promises: 1 s after the first failure, 4 s after the second.
    delays = {(int(n), int(s)) for n, s in RETRY_LINE.findall(worker.log_path.read_text(errors="replace"))}
    assert (1, 1) in delays and (2, 4) in delays, delays
    assert all(s == 4 ** (n - 1) for n, s in delays), delays

    sessions = {d.object_id for d in deliveries if d.provider == "stripe"}
    appointments = {d.object_id for d in deliveries if d.provider == "acuity"}
    assert set(Payment.objects.values_list("checkout_session_id", flat=True)) == sessions
    assert set(Booking.objects.values_list("acuity_appointment_id", flat=True)) == appointments
    assert AuditLog.objects.filter(action="payment.recorded").count() == len(sessions)
    assert AuditLog.objects.filter(action="booking.recorded").count() == len(appointments)
