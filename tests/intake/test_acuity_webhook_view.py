"""POST /webhooks/acuity/: form-encoded, X-Acuity-Signature over the raw body, both action spellings."""

import json
import logging

import pytest
from django.urls import reverse

from integrations.models import WebhookEvent
from tests.fakes import acuity as acuity_fake

from .conftest import queued_inbox_ids, run_queue

pytestmark = pytest.mark.django_db


def test_a_signed_scheduled_delivery_is_stored_and_queued(post_acuity, fake_acuity):
    appt = fake_acuity.add_appointment()

    response = post_acuity(appt, "scheduled")

    assert response.status_code == 200
    row = WebhookEvent.objects.get()
    assert (row.provider, row.event_type, row.status) == ("acuity", "scheduled", "received")
    assert row.object_id == str(appt["id"])
    assert row.event_id == f"acuity:scheduled:{appt['id']}:6001:4440001"
    assert row.body == acuity_fake.webhook_body(appt, "scheduled").decode()
    assert queued_inbox_ids() == [row.pk]
    assert fake_acuity.requests == []  # the appointment is fetched by the worker, not here


@pytest.mark.parametrize(
    "action",
    [
        "scheduled",
        "appointment.scheduled",
        "canceled",
        "appointment.canceled",
        "rescheduled",
        "appointment.rescheduled",
        "changed",
        "appointment.changed",
    ],
)
def test_static_and_dynamic_action_spellings_are_both_accepted(post_acuity, fake_acuity, action):
    assert post_acuity(fake_acuity.add_appointment(), action).status_code == 200
    assert WebhookEvent.objects.get().status == "received"


def test_the_same_booking_announced_by_static_and_dynamic_webhooks_is_one_delivery(post_acuity, fake_acuity):
    appt = fake_acuity.add_appointment()
    post_acuity(appt, "scheduled")
    post_acuity(appt, "appointment.scheduled")
    row = WebhookEvent.objects.get()
    assert row.deliveries == 2
    assert len(queued_inbox_ids()) == 1


def test_an_order_completed_delivery_is_200_and_ignored(post_acuity, fake_acuity):
    body = b"action=order.completed&id=778899"
    assert post_acuity(body).status_code == 200
    row = WebhookEvent.objects.get()
    assert row.status == "ignored" and "order.completed" in row.result
    assert queued_inbox_ids() == []


def test_a_wrong_or_missing_signature_is_400_nothing_stored_and_logged(post_acuity, fake_acuity, caplog):
    appt = fake_acuity.add_appointment()
    body = acuity_fake.webhook_body(appt)

    assert post_acuity(body, signature=acuity_fake.sign(body, "another-users-key")).status_code == 400
    assert post_acuity(body, signature="").status_code == 400
    assert WebhookEvent.objects.count() == 0
    messages = [
        r.getMessage() for r in caplog.records if r.name == "integrations.webhooks" and r.levelno == logging.WARNING
    ]
    assert "acuity" in messages[0] and "does not match ACUITY_API_KEY" in messages[0]
    assert "missing X-Acuity-Signature header" in messages[1]
    assert fake_acuity.api_key not in caplog.text


def test_a_signature_of_a_reencoded_body_does_not_pass(post_acuity, fake_acuity):
    appt = fake_acuity.add_appointment()
    body = acuity_fake.webhook_body(appt)
    reordered = b"&".join(reversed(body.split(b"&")))
    assert post_acuity(reordered, signature=acuity_fake.sign(body, fake_acuity.api_key)).status_code == 400


def test_a_json_body_is_not_what_acuity_sends_and_is_refused(post_acuity, fake_acuity):
    body = json.dumps({"action": "scheduled", "id": 1}).encode()
    assert post_acuity(body).status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_a_non_numeric_appointment_id_is_refused(post_acuity):
    assert post_acuity(b"action=scheduled&id=abc&calendarID=1&appointmentTypeID=2").status_code == 400


def test_only_post_is_allowed(client):
    assert client.get(reverse("integrations:acuity-webhook")).status_code == 405


def test_a_body_over_the_size_limit_is_413(post_acuity, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 100
    assert post_acuity(b"action=scheduled&id=1&pad=" + b"x" * 200).status_code == 413


def test_a_redelivery_after_processing_fetches_the_appointment_again(post_acuity, fake_acuity, event):
    """Acuity bodies carry no state: the same body can announce a second change (rescheduled
    twice), so a delivery that arrives after processing re-checks the API instead of being dropped."""
    appt = fake_acuity.add_appointment()
    post_acuity(appt, "rescheduled")
    assert run_queue() == ["processed"]

    post_acuity(appt, "rescheduled")

    row = WebhookEvent.objects.get()
    assert (row.status, row.deliveries) == ("received", 2)
    assert run_queue() == ["processed"]
    assert fake_acuity.count("GET", rf"/appointments/{appt['id']}$") == 2
