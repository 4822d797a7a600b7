"""End to end through real HTTP and a real worker: signed deliveries POSTed with ``requests`` to the
live server, processed by ``manage.py qcluster`` running as a separate process on the same test
database, against the fake Stripe and Acuity servers."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection

from integrations.models import WebhookEvent
from registrations.models import Registration, Status
from tests.fakes import acuity as acuity_fake
from tests.fakes import stripe as stripe_fake

from .conftest import SECRET

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the worker runs in another process; pytest-django's SQLite test database lives in memory "
        "and cannot be shared with it",
    ),
]


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(live_server, fake_stripe, fake_acuity):
    env = dict(
        os.environ,
        DATABASE_URL=database_url(),
        STRIPE_API_BASE=fake_stripe.url,
        STRIPE_SECRET_KEY="sk_test_fake",
        STRIPE_WEBHOOK_SECRETS=SECRET,
        STRIPE_REQUESTS_PER_SECOND="1000",
        ACUITY_API_BASE=fake_acuity.base_url,
        ACUITY_USER_ID=fake_acuity.user_id,
        ACUITY_API_KEY=fake_acuity.api_key,
        Q_WORKERS="1",
        Q_POLL="0.05",
        LOG_LEVEL="WARNING",
        SECRET_KEY=settings.SECRET_KEY,  # queued task payloads are signed with it
    )
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=Path(settings.BASE_DIR),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    yield proc
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def wait_for(predicate, seconds=30.0, proc=None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the worker exited: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.1)
    return False


def test_a_payment_and_a_booking_posted_over_http_complete_the_registration(
    live_server, worker, fake_stripe, fake_acuity, event
):
    evt = fake_stripe.session_event(fake_stripe.add_session(email="river.stone@example.org"))
    body = fake_stripe.body(evt)
    response = requests.post(
        f"{live_server.url}/webhooks/stripe/",
        data=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": stripe_fake.sign(body, SECRET)},
        timeout=10,
    )
    assert response.status_code == 200

    def status():
        reg = Registration.objects.filter(attendee__email="river.stone@example.org").first()
        return reg.status if reg else None

    assert wait_for(lambda: status() == Status.PAID_ONLY, proc=worker), WebhookEvent.objects.values()

    appt = fake_acuity.add_appointment(email="river.stone@example.org")
    form = acuity_fake.webhook_body(appt, "scheduled")
    response = requests.post(
        f"{live_server.url}/webhooks/acuity/",
        data=form,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Acuity-Signature": acuity_fake.sign(form, fake_acuity.api_key),
        },
        timeout=10,
    )
    assert response.status_code == 200

    assert wait_for(lambda: status() == Status.COMPLETE, proc=worker), WebhookEvent.objects.values()
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
