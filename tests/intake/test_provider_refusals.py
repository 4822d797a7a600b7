"""A provider that refuses the request itself (the key lacks a permission, the key is wrong, the
request is invalid) gives the same answer on every retry: the delivery fails at once, with a
message that says what to fix, instead of being retried for hours as if the provider were down."""

import pytest

from integrations.models import WebhookEvent
from tests.fakes import stripe as stripe_fake

from .conftest import inbox, run_queue

pytestmark = pytest.mark.django_db


def line_item_calls(fake) -> int:
    return fake.count("GET", r"/v1/checkout/sessions/[^/]+/line_items$")


def test_a_restricted_stripe_key_without_checkout_sessions_read_fails_the_delivery_at_once_naming_the_permission(
    post_stripe, fake_stripe, event
):
    evt = fake_stripe.session_event(fake_stripe.add_session())
    post_stripe(evt)
    fake_stripe.fail_next(1, status=403, body=stripe_fake.permission_error("rak_checkout_session_read"))

    assert run_queue() == ["failed"]

    row = inbox(evt["id"])
    assert row.attempts == 1 and row.next_attempt_at is None
    assert "give the restricted key Read access to Checkout Sessions" in row.last_error
    assert "rak_checkout_session_read" in row.last_error  # Stripe's own words, kept
    assert line_item_calls(fake_stripe) == 1  # asked once, not retried


@pytest.mark.parametrize(
    "status,body,says",
    [
        (
            401,
            {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_****wxyz"}},
            "STRIPE_SECRET_KEY",
        ),
        (
            400,
            {"error": {"type": "invalid_request_error", "message": "Invalid limit: must be at most 100"}},
            "Invalid limit",
        ),
    ],
)
def test_a_wrong_stripe_key_or_an_invalid_request_fails_the_delivery_at_once(
    post_stripe, fake_stripe, event, status, body, says
):
    evt = fake_stripe.session_event(fake_stripe.add_session())
    post_stripe(evt)
    fake_stripe.fail_next(1, status=status, body=body)

    assert run_queue() == ["failed"]
    row = inbox(evt["id"])
    assert row.attempts == 1 and says in row.last_error
    assert line_item_calls(fake_stripe) == 1


@pytest.mark.parametrize("status", [401, 403])
def test_acuity_refusing_the_user_id_or_api_key_fails_the_delivery_at_once(post_acuity, fake_acuity, event, status):
    post_acuity(fake_acuity.add_appointment())
    fake_acuity.fail_next(1, status=status, body={"status_code": status, "error": "forbidden", "message": "Forbidden"})

    assert run_queue() == ["failed"]
    row = WebhookEvent.objects.get()
    assert row.attempts == 1 and "ACUITY_USER_ID / ACUITY_API_KEY" in row.last_error
    assert fake_acuity.count("GET", r"/appointments/\d+$") == 1
