"""Rate limits and server errors are survived; a provider that stays down fails the run for that
provider only, with a clear message, and the other provider's results stay (status partial)."""

import time

import pytest

from integrations.models import ReconcileRun
from registrations.models import Booking, Payment

from .conftest import day, run_command


@pytest.fixture
def data(event, providers):
    stripe, acuity = providers
    for i in range(3):
        stripe.add_session(email=f"p{i}@example.org")
        acuity.add_appointment(email=f"p{i}@example.org", starts_at=day(20))
    return stripe, acuity


def test_stripe_429_answers_are_waited_out_honouring_retry_after(data):
    stripe, _ = data
    stripe.fail_next(2, status=429, retry_after=0.05)

    result = run_command("--provider", "stripe")

    assert result.run.status == ReconcileRun.Status.OK
    assert Payment.objects.count() == 3
    assert stripe.count("GET", r"^/v1/checkout/sessions$") == 3  # two 429s, then the page


def test_stripe_500_answers_are_retried(data):
    stripe, _ = data
    stripe.fail_next(1, status=500)

    result = run_command("--provider", "stripe")

    assert result.run.status == ReconcileRun.Status.OK
    assert Payment.objects.count() == 3


def test_acuity_429_and_500_answers_are_survived(data):
    _, acuity = data
    acuity.fail_next(2, status=429, retry_after=0)
    acuity.fail_next(1, status=500, retry_after=0)

    result = run_command("--provider", "acuity")

    assert result.run.status == ReconcileRun.Status.OK
    assert Booking.objects.count() == 3
    assert result.counts(provider="acuity") == {"seen": 3, "known": 0, "new": 3, "changed": 0, "errors": 0}


def test_an_acuity_outage_keeps_the_stripe_results_and_ends_partial(data):
    _, acuity = data
    acuity.fail_next(50, status=503, retry_after=0)

    result = run_command(expect_ok=False)

    assert result.run.status == ReconcileRun.Status.PARTIAL
    assert Payment.objects.count() == 3 and Booking.objects.count() == 0
    assert result.counts(provider="stripe")["new"] == 3
    assert result.counts(provider="acuity")["seen"] == 0
    [error] = result.run.errors
    assert error["provider"] == "acuity"
    assert "Acuity failed" in error["message"] and "HTTP 503" in error["message"]
    assert "Acuity failed" in result.out  # the report lists it
    assert "partial" in str(result.error).lower()


def test_a_stripe_outage_keeps_the_acuity_results_and_ends_partial(data):
    stripe, _ = data
    stripe.down()

    result = run_command(expect_ok=False)

    assert result.run.status == ReconcileRun.Status.PARTIAL
    assert Booking.objects.count() == 3 and Payment.objects.count() == 0
    assert [e["provider"] for e in result.run.errors] == ["stripe"]
    assert "Stripe failed" in result.run.errors[0]["message"]


def test_both_providers_down_fails_the_run(data):
    stripe, acuity = data
    stripe.fail_next(50, status=503)
    acuity.fail_next(50, status=503, retry_after=0)

    result = run_command(expect_ok=False)

    assert result.run.status == ReconcileRun.Status.FAILED
    assert {e["provider"] for e in result.run.errors} == {"stripe", "acuity"}


def test_wrong_acuity_credentials_say_which_settings_to_check(data, settings):
    settings.ACUITY_API_KEY = "wrong"

    result = run_command("--provider", "acuity", expect_ok=False)

    assert result.run.status == ReconcileRun.Status.FAILED
    assert "ACUITY_USER_ID / ACUITY_API_KEY" in result.run.errors[0]["message"]


def test_an_unconfigured_provider_is_reported_not_called(data, settings):
    settings.STRIPE_SECRET_KEY = ""

    result = run_command(expect_ok=False)

    assert result.run.status == ReconcileRun.Status.PARTIAL
    assert "STRIPE_SECRET_KEY" in result.run.errors[0]["message"]
    assert Booking.objects.count() == 3


def _cut_acuity_answers(monkeypatch, acuity, times: int | None):
    """Acuity's answers end mid-body (the connection drops while the list is sent): requests
    raises ChunkedEncodingError, which is not a ConnectionError."""
    import requests

    real_get = requests.Session.get
    cut = {"n": 0}

    def get(self, url, *args, **kwargs):
        if url.startswith(acuity.url) and (times is None or cut["n"] < times):
            cut["n"] += 1
            raise requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead(512 bytes read)")
        return real_get(self, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "get", get)
    return cut


def test_an_acuity_answer_cut_off_mid_body_is_retried(data, monkeypatch):
    _, acuity = data
    cut = _cut_acuity_answers(monkeypatch, acuity, times=1)

    result = run_command("--provider", "acuity")

    assert cut["n"] == 1
    assert result.run.status == ReconcileRun.Status.OK
    assert Booking.objects.count() == 3


def test_acuity_answers_that_keep_being_cut_off_keep_the_stripe_results_and_end_partial(data, monkeypatch):
    _, acuity = data
    _cut_acuity_answers(monkeypatch, acuity, times=None)

    result = run_command(expect_ok=False)

    assert result.run.status == ReconcileRun.Status.PARTIAL
    assert Payment.objects.count() == 3 and Booking.objects.count() == 0
    [error] = result.run.errors
    assert error["provider"] == "acuity" and "Acuity failed" in error["message"]


def test_a_restricted_stripe_key_without_checkout_sessions_read_says_which_permission_to_give(data):
    from tests.fakes import stripe as stripe_fake

    stripe, _ = data
    stripe.fail_next(1, status=403, body=stripe_fake.permission_error("rak_checkout_session_read"))

    result = run_command(expect_ok=False)

    assert result.run.status == ReconcileRun.Status.PARTIAL  # Acuity's results stay
    [error] = result.run.errors
    assert error["provider"] == "stripe" and "Stripe failed" in error["message"]
    assert "give the restricted key Read access to Checkout Sessions" in error["message"]
    assert "rak_checkout_session_read" in error["message"]
    assert stripe.count("GET", r"^/v1/checkout/sessions$") == 1  # not retried


def test_the_command_waits_out_a_retry_after_longer_than_a_task_may_wait_and_says_it_is_waiting(data, settings):
    _, acuity = data
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 6}  # a task would wait at most 1 s
    acuity.fail_next(1, status=429, retry_after=2)

    started = time.monotonic()
    result = run_command("--provider", "acuity")

    assert time.monotonic() - started >= 2
    assert result.run.status == ReconcileRun.Status.OK
    assert Booking.objects.count() == 3
    assert "waiting 2 s: Acuity answered 429" in result.err


def test_a_retry_after_longer_than_a_run_waits_stops_that_provider_for_this_run_at_once(data):
    _, acuity = data
    acuity.fail_next(1, status=429, retry_after=3600)

    started = time.monotonic()
    result = run_command(expect_ok=False)

    assert time.monotonic() - started < 30
    assert result.run.status == ReconcileRun.Status.PARTIAL
    assert Payment.objects.count() == 3 and Booking.objects.count() == 0  # Stripe's results stay
    [error] = result.run.errors
    assert error["provider"] == "acuity" and "Acuity failed" in error["message"]
    assert "asked to wait 3600 s (Retry-After)" in error["message"]
    assert "the next run will try again" in error["message"]
