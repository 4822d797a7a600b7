"""Each delivery sent three times at once, over real HTTP, then processed by three workers at once:
one inbox row, one effect, no 5xx."""

import threading

import pytest
import requests
from django.db import close_old_connections, connection

from integrations.models import WebhookEvent
from integrations.tasks import process_webhook
from registrations.models import AuditLog, Booking, Dispute, Payment, Refund, Registration
from tests.fakes import acuity as acuity_fake
from tests.fakes import stripe as stripe_fake

from .conftest import SECRET

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises every writer on one file lock (and the in-memory test database is not "
        "shared with the live server's threads the same way), so there is no real concurrency to test",
    ),
]


def all_at_once(fn, n=3):
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def run(i):
        try:
            barrier.wait()
            results[i] = fn()
        except Exception as exc:  # pragma: no cover - reported by the assertion
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


def send_three_times(url, body, headers):
    return all_at_once(lambda: requests.post(url, data=body, headers=headers, timeout=10).status_code)


def deliver_stripe_three_times(live_server, evt):
    body = stripe_fake.FakeStripe.body(evt)
    headers = {"Content-Type": "application/json", "Stripe-Signature": stripe_fake.sign(body, SECRET)}
    statuses = send_three_times(f"{live_server.url}/webhooks/stripe/", body, headers)
    assert statuses == [200, 200, 200]
    row = WebhookEvent.objects.get(event_id=evt["id"])
    assert row.deliveries == 3
    outcomes = all_at_once(lambda: process_webhook(row.pk))
    assert "processed" in outcomes  # one ran; the others found it running (or already done)
    assert set(outcomes) <= {"processed", "running elsewhere"}
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("processed", 1)
    return row


def effects(action: str) -> int:
    return AuditLog.objects.filter(action=action).count()


def test_a_checkout_delivered_three_times_at_once_records_one_payment(live_server, fake_stripe, event):
    deliver_stripe_three_times(live_server, fake_stripe.session_event(fake_stripe.add_session()))

    assert Payment.objects.count() == 1 and Registration.objects.count() == 1
    assert effects("payment.recorded") == 1
    assert fake_stripe.count("GET", r"/line_items$") == 1


def test_a_payment_intent_delivered_three_times_at_once_records_one_payment(live_server, fake_stripe, event):
    session = fake_stripe.add_session()
    deliver_stripe_three_times(live_server, fake_stripe.payment_intent_event(session))
    assert Payment.objects.get().checkout_session_id == session["id"]
    assert effects("payment.recorded") == 1


def test_a_refund_delivered_three_times_at_once_refunds_once(live_server, fake_stripe, event):
    session = fake_stripe.add_session()
    deliver_stripe_three_times(live_server, fake_stripe.session_event(session))
    refund = fake_stripe.refund(session, 4000)
    deliver_stripe_three_times(live_server, stripe_fake.event("refund.created", refund))

    assert Refund.objects.count() == 1 and Payment.objects.get().amount_refunded == 4000
    assert effects("payment.refund_recorded") == 1


def test_a_dispute_delivered_three_times_at_once_is_one_dispute(live_server, fake_stripe, event):
    session = fake_stripe.add_session()
    dispute = fake_stripe.dispute_object(session)
    deliver_stripe_three_times(live_server, stripe_fake.event("charge.dispute.created", dispute))
    assert Dispute.objects.count() == 1 and effects("payment.dispute_recorded") == 1


def test_an_acuity_booking_delivered_three_times_at_once_is_one_booking(live_server, fake_acuity, event):
    appt = fake_acuity.add_appointment()
    body = acuity_fake.webhook_body(appt, "appointment.scheduled")
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Acuity-Signature": acuity_fake.sign(body, fake_acuity.api_key),
    }

    assert send_three_times(f"{live_server.url}/webhooks/acuity/", body, headers) == [200, 200, 200]
    row = WebhookEvent.objects.get()
    assert row.deliveries == 3
    all_at_once(lambda: process_webhook(row.pk))

    assert Booking.objects.count() == 1 and Registration.objects.count() == 1
    assert effects("booking.recorded") == 1
