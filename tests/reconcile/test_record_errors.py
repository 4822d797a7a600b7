"""A record that cannot be applied is counted and named, and the run goes on; many failures in a
row stop the run (that is the database, not one record)."""

import pytest
from django.db import connection

from integrations.models import ReconcileRun
from integrations.reconcile import MAX_ERRORS_IN_A_ROW
from registrations.models import Payment

from .conftest import run_command

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the failure used here is PostgreSQL refusing a value longer than the column (SQLite stores it)",
)

TOO_LONG = "x" * 300  # Payment.name is 200 characters


def test_a_record_that_cannot_be_applied_is_an_error_and_the_others_are_applied(event, providers):
    stripe, _ = providers
    stripe.add_session(email="ok1@example.org")
    bad = stripe.add_session(email="bad@example.org", name=TOO_LONG)
    stripe.add_session(email="ok2@example.org")

    result = run_command("--provider", "stripe", expect_ok=False)

    assert result.run.status == ReconcileRun.Status.PARTIAL
    assert set(Payment.objects.values_list("email", flat=True)) == {"ok1@example.org", "ok2@example.org"}
    assert result.counts(provider="stripe") == {"seen": 3, "known": 0, "new": 2, "changed": 0, "errors": 1}
    [error] = result.run.errors
    assert error["event"] == "spring-retreat" and f"session {bad['id']}" in error["message"]


def test_many_failures_in_a_row_stop_the_run(event, providers):
    stripe, _ = providers
    for i in range(MAX_ERRORS_IN_A_ROW + 5):
        stripe.add_session(email=f"bad{i}@example.org", name=TOO_LONG)

    result = run_command("--provider", "stripe", expect_ok=False)

    assert result.run.status == ReconcileRun.Status.FAILED
    assert result.counts(provider="stripe")["errors"] == MAX_ERRORS_IN_A_ROW
    assert "in a row failed to apply" in result.run.errors[-1]["message"]
