"""POST /webhooks/stripe/: verify on the raw body, store, enqueue, answer — and every way to be refused."""

import json
import logging
import time

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.urls import reverse

from integrations.models import WebhookEvent
from tests.fakes import stripe as stripe_fake

from .conftest import SECRET, inbox, queued_inbox_ids, run_queue, stripe_headers

pytestmark = pytest.mark.django_db


def rejections(caplog):
    return [r for r in caplog.records if r.name == "integrations.webhooks" and r.levelno == logging.WARNING]


def test_a_signed_delivery_is_stored_as_received_and_queued_in_the_same_transaction(post_stripe, fake_stripe):
    evt = fake_stripe.session_event(fake_stripe.add_session())
    body = fake_stripe.body(evt)

    response = post_stripe(body)

    assert response.status_code == 200
    row = inbox(evt["id"])
    assert (row.provider, row.event_type, row.status, row.livemode) == ("stripe", evt["type"], "received", False)
    assert row.body == body.decode()  # the raw bytes as received, not a re-serialisation
    assert row.object_id == evt["data"]["object"]["id"]
    assert queued_inbox_ids() == [row.pk]
    assert fake_stripe.requests == []  # no provider call inside the request


def test_stored_headers_keep_the_signature_timestamp_but_never_the_signature(post_stripe, fake_stripe):
    evt = fake_stripe.session_event(fake_stripe.add_session())
    body = fake_stripe.body(evt)
    headers = stripe_headers(body, timestamp=int(time.time()) - 5)
    post_stripe(body, headers=headers)

    row = inbox(evt["id"])
    signature = headers["HTTP_STRIPE_SIGNATURE"].split("v1=")[1]
    assert row.headers["signature_timestamp"] == headers["HTTP_STRIPE_SIGNATURE"].split(",")[0][2:]
    assert signature not in json.dumps(row.headers)


def test_missing_signature_is_refused_with_400_nothing_stored_and_a_warning_naming_provider_and_reason(
    post_stripe, fake_stripe, caplog
):
    response = post_stripe(fake_stripe.session_event(fake_stripe.add_session()), headers={})

    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0 and queued_inbox_ids() == []
    [warning] = rejections(caplog)
    assert "stripe" in warning.getMessage() and "missing Stripe-Signature header" in warning.getMessage()


def test_a_garbled_signature_header_is_refused(post_stripe, fake_stripe, caplog):
    response = post_stripe(
        fake_stripe.session_event(fake_stripe.add_session()), headers={"HTTP_STRIPE_SIGNATURE": "garbage"}
    )
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0
    assert "unparsable Stripe-Signature header" in rejections(caplog)[0].getMessage()


def test_a_signature_header_with_a_non_ascii_byte_is_refused_not_a_server_error(post_stripe, fake_stripe, caplog):
    # WSGI hands header bytes over as latin-1: a stray byte is a non-ASCII character.
    response = post_stripe(
        fake_stripe.session_event(fake_stripe.add_session()),
        headers={"HTTP_STRIPE_SIGNATURE": f"t={int(time.time())},v1=caf\u00e9"},
    )
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0
    assert "unparsable Stripe-Signature header" in rejections(caplog)[0].getMessage()


def test_a_wrong_secret_is_obvious_from_the_log_without_logging_secret_or_signature(post_stripe, fake_stripe, caplog):
    body = fake_stripe.body(fake_stripe.session_event(fake_stripe.add_session()))
    headers = stripe_headers(body, secret="whsec_someone_elses_endpoint")

    response = post_stripe(body, headers=headers)

    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0
    message = rejections(caplog)[0].getMessage()
    assert "matches none of the configured STRIPE_WEBHOOK_SECRETS (1 configured)" in message
    assert SECRET not in caplog.text and "whsec_someone_elses_endpoint" not in caplog.text
    assert headers["HTTP_STRIPE_SIGNATURE"].split("v1=")[1] not in caplog.text


def test_a_signature_older_than_five_minutes_is_refused_as_stale(post_stripe, fake_stripe, caplog):
    body = fake_stripe.body(fake_stripe.session_event(fake_stripe.add_session()))

    response = post_stripe(body, timestamp=int(time.time()) - 301)

    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0
    assert "older than the tolerance" in rejections(caplog)[0].getMessage()


def test_a_body_changed_after_signing_is_refused(post_stripe, fake_stripe):
    evt = fake_stripe.session_event(fake_stripe.add_session())
    body = fake_stripe.body(evt)
    headers = stripe_headers(body)
    tampered = body.replace(b'"amount_total": 12000', b'"amount_total": 1')

    assert post_stripe(tampered, headers=headers).status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_during_a_secret_roll_a_header_with_two_v1_values_is_accepted(post_stripe, fake_stripe, settings):
    settings.STRIPE_WEBHOOK_SECRETS = ["whsec_new_secret"]
    evt = fake_stripe.session_event(fake_stripe.add_session())
    body = fake_stripe.body(evt)
    ts = int(time.time())
    old = stripe_fake.sign(body, "whsec_old_secret", ts)
    new = stripe_fake.sign(body, "whsec_new_secret", ts).split(",")[1]

    response = post_stripe(body, headers={"HTTP_STRIPE_SIGNATURE": f"{old},{new}"})

    assert response.status_code == 200
    assert inbox(evt["id"]).status == "received"


def test_with_two_configured_secrets_deliveries_signed_with_either_are_accepted(post_stripe, fake_stripe, settings):
    settings.STRIPE_WEBHOOK_SECRETS = ["whsec_old_secret", "whsec_new_secret"]
    first = fake_stripe.session_event(fake_stripe.add_session())
    second = fake_stripe.session_event(fake_stripe.add_session())

    assert post_stripe(first, secret="whsec_old_secret").status_code == 200
    assert post_stripe(second, secret="whsec_new_secret").status_code == 200
    assert post_stripe(fake_stripe.session_event(fake_stripe.add_session()), secret="whsec_x").status_code == 400
    assert WebhookEvent.objects.count() == 2


def test_secrets_listed_with_a_space_after_the_comma_still_verify(post_stripe, fake_stripe, settings, monkeypatch):
    """``STRIPE_WEBHOOK_SECRETS=whsec_old, whsec_new`` (as people write lists while rolling a
    secret): django-environ keeps the spaces, and the new secret must still verify."""
    import environ

    monkeypatch.setenv("STRIPE_WEBHOOK_SECRETS", "whsec_old_secret, whsec_new_secret ")
    settings.STRIPE_WEBHOOK_SECRETS = environ.Env().list("STRIPE_WEBHOOK_SECRETS")

    assert (
        post_stripe(fake_stripe.session_event(fake_stripe.add_session()), secret="whsec_new_secret").status_code == 200
    )
    assert (
        post_stripe(fake_stripe.session_event(fake_stripe.add_session()), secret="whsec_old_secret").status_code == 200
    )
    assert WebhookEvent.objects.count() == 2


def test_no_configured_secret_refuses_everything(post_stripe, fake_stripe, settings, caplog):
    settings.STRIPE_WEBHOOK_SECRETS = []
    assert post_stripe(fake_stripe.session_event(fake_stripe.add_session())).status_code == 400
    assert "no STRIPE_WEBHOOK_SECRETS configured" in rejections(caplog)[0].getMessage()


def test_a_signed_body_that_is_not_json_is_refused(post_stripe):
    assert post_stripe(b"this is not json").status_code == 400
    assert post_stripe(b'["a list", "not an event"]').status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_an_event_type_we_do_not_handle_is_200_and_stored_as_ignored(post_stripe, fake_stripe):
    evt = stripe_fake.event("customer.created", {"id": "cus_1", "object": "customer"})

    response = post_stripe(evt)

    assert response.status_code == 200
    row = inbox(evt["id"])
    assert row.status == "ignored" and "customer.created is not handled" in row.result
    assert queued_inbox_ids() == []


def test_a_test_mode_event_on_a_live_install_is_ignored_unless_allowed(post_stripe, fake_stripe, settings):
    settings.STRIPE_LIVEMODE = True
    test_evt = fake_stripe.session_event(fake_stripe.add_session(livemode=False))
    assert post_stripe(test_evt).status_code == 200
    assert inbox(test_evt["id"]).status == "ignored"
    assert "test-mode event on a live install" in inbox(test_evt["id"]).result

    settings.STRIPE_ACCEPT_OTHER_MODE = True
    allowed = fake_stripe.session_event(fake_stripe.add_session(livemode=False))
    assert post_stripe(allowed).status_code == 200
    assert inbox(allowed["id"]).status == "received"


def test_a_live_event_on_a_test_install_is_ignored(post_stripe, fake_stripe):
    evt = fake_stripe.session_event(fake_stripe.add_session(livemode=True))
    assert post_stripe(evt).status_code == 200
    assert inbox(evt["id"]).status == "ignored"


def test_only_post_is_allowed(client):
    assert client.get(reverse("integrations:stripe-webhook")).status_code == 405
    assert client.put(reverse("integrations:stripe-webhook")).status_code == 405


def test_a_body_over_the_size_limit_is_413(post_stripe, fake_stripe, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 2000
    session = fake_stripe.add_session()
    session["metadata"] = {"padding": "x" * 3000}
    response = post_stripe(fake_stripe.session_event(session))
    assert response.status_code == 413
    assert WebhookEvent.objects.count() == 0


def test_the_endpoint_needs_no_csrf_token(post_stripe, fake_stripe):
    strict = Client(enforce_csrf_checks=True)
    assert post_stripe(fake_stripe.session_event(fake_stripe.add_session()), c=strict).status_code == 200


def test_a_redelivery_of_a_processed_event_is_counted_and_not_run_again(post_stripe, fake_stripe, event):
    evt = fake_stripe.session_event(fake_stripe.add_session())
    post_stripe(evt)
    assert run_queue() == ["processed"]

    response = post_stripe(evt)

    assert response.status_code == 200 and response.json()["duplicate"] is True
    row = inbox(evt["id"])
    assert (row.status, row.deliveries) == ("processed", 2)
    assert queued_inbox_ids() == []


def test_a_redelivery_of_a_failed_event_runs_again_with_a_fresh_budget(post_stripe, fake_stripe, event):
    evt = fake_stripe.session_event(fake_stripe.add_session())
    post_stripe(evt)
    WebhookEvent.objects.filter(event_id=evt["id"]).update(status="failed", attempts=6, last_error="boom")

    assert post_stripe(evt).status_code == 200

    row = inbox(evt["id"])
    assert (row.status, row.attempts, row.deliveries) == ("received", 0, 2)
    assert queued_inbox_ids() == [row.pk, row.pk]  # the first task (never run here) and the new one
    assert run_queue() == ["processed", "processed"]


def test_a_redelivery_while_the_first_is_still_queued_does_not_queue_it_twice(post_stripe, fake_stripe):
    evt = fake_stripe.session_event(fake_stripe.add_session())
    post_stripe(evt)
    post_stripe(evt)
    assert inbox(evt["id"]).deliveries == 2
    assert len(queued_inbox_ids()) == 1


def test_a_database_that_is_down_answers_503_so_stripe_retries(post_stripe, fake_stripe, caplog):
    def database_down(execute, sql, params, many, context):
        raise OperationalError("connection refused")  # what psycopg raises when PostgreSQL is gone

    with connection.execute_wrapper(database_down):
        response = post_stripe(fake_stripe.session_event(fake_stripe.add_session()))

    assert response.status_code == 503
    assert response["Retry-After"]
    assert WebhookEvent.objects.count() == 0
    assert "database unavailable" in caplog.text


def test_an_endpoint_typed_without_the_trailing_slash_still_takes_deliveries(client, fake_stripe, fake_acuity):
    """Providers count a redirect as a failed delivery: /webhooks/stripe and /webhooks/acuity
    answer like the documented addresses instead of Django's 301 to the slashed one."""
    from tests.fakes import acuity as acuity_fake

    evt = fake_stripe.session_event(fake_stripe.add_session())
    body = fake_stripe.body(evt)
    response = client.post("/webhooks/stripe", data=body, content_type="application/json", **stripe_headers(body))
    assert response.status_code == 200 and inbox(evt["id"]).status == "received"

    appt = fake_acuity.add_appointment(email="river@example.org")
    form = acuity_fake.webhook_body(appt, "scheduled")
    signature = acuity_fake.sign(form, fake_acuity.api_key)
    response = client.post(
        "/webhooks/acuity",
        data=form,
        content_type="application/x-www-form-urlencoded",
        HTTP_X_ACUITY_SIGNATURE=signature,
    )
    assert response.status_code == 200
    assert WebhookEvent.objects.filter(provider="acuity").count() == 1
