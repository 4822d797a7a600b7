"""Disputes whose webhooks never came (opened by the cardholder's bank, or closed since) are found
by reconciliation and applied through the same parser and function as the webhooks."""

import time

import pytest
from django.db import connection

from integrations.clients import stripe_client
from integrations.parsing import dispute_to_signal, session_to_signal
from integrations.reconcile import stripe_dispute_pages
from registrations.models import AuditLog, Dispute, EventMapping, Payment, Registration, ReviewItem, Status
from registrations.services import apply_payment
from tests.factories import EventFactory

from .conftest import run_command

QUIET = {"seen": 0, "known": 0, "new": 0, "changed": 0, "errors": 0}


def test_a_dispute_whose_webhook_never_came_is_found_and_puts_the_registration_in_review(event, providers):
    stripe, _ = providers
    session = stripe.add_session(email="river@example.org", amount=12000)
    run_command("--provider", "stripe")
    assert Registration.objects.get().status == Status.PAID_ONLY

    dispute = stripe.dispute(session, reason="fraudulent")
    stripe.reset_requests()
    result = run_command("--provider", "stripe")

    stored = Dispute.objects.get()
    assert stored.dispute_id == dispute["id"] and stored.status == "needs_response" and stored.amount == 12000
    assert stored.reason == "fraudulent"
    payment = Payment.objects.get()
    assert stored.payment == payment and payment.disputed
    reg = Registration.objects.get()
    item = ReviewItem.objects.get(kind=ReviewItem.Kind.DISPUTE)
    assert item.registration == reg and item.data == {"dispute_id": dispute["id"]}
    assert reg.status == Status.NEEDS_REVIEW
    assert AuditLog.objects.filter(action="payment.dispute_recorded", actor_source=f"reconcile:{result.run.pk}")
    assert result.counts(provider="stripe") == {"seen": 2, "known": 1, "new": 1, "changed": 0, "errors": 0}
    # one call for the whole account, asking only for disputes created in the window
    [call] = [r for r in stripe.requests if r.path == "/v1/disputes"]
    assert int(call.query["created[gte]"]) == result.run.options["stripe_created_gte"]


def test_a_payment_and_its_dispute_both_missed_are_found_in_one_run(event, providers):
    stripe, _ = providers
    session = stripe.add_session(email="river@example.org")
    stripe.dispute(session)

    result = run_command("--provider", "stripe")

    assert Payment.objects.get().disputed
    assert Dispute.objects.get().payment == Payment.objects.get()
    assert Registration.objects.get().status == Status.NEEDS_REVIEW
    assert result.counts(provider="stripe") == {"seen": 2, "known": 0, "new": 2, "changed": 0, "errors": 0}


@pytest.mark.parametrize("outcome", ["won", "lost"])
def test_a_dispute_closed_in_stripe_is_picked_up_as_changed(event, providers, outcome):
    stripe, _ = providers
    session = stripe.add_session(email="river@example.org")
    dispute = stripe.dispute(session)
    run_command("--provider", "stripe")
    assert Dispute.objects.get().status == "needs_response"

    stripe.set_dispute_status(dispute, outcome)
    result = run_command("--provider", "stripe")

    assert Dispute.objects.get().status == outcome
    assert AuditLog.objects.filter(action="payment.dispute_recorded", actor_source=f"reconcile:{result.run.pk}")
    assert result.counts(provider="stripe") == {"seen": 2, "known": 1, "new": 0, "changed": 1, "errors": 0}


def test_a_dispute_the_webhooks_delivered_counts_as_known(event, providers):
    stripe, _ = providers
    session = stripe.add_session(email="river@example.org")
    dispute = stripe.dispute(session)
    # Both webhooks arrived (same parsers, same apply function):
    apply_payment(session_to_signal(session, line_items=stripe.line_items[session["id"]], raw_ref="evt_1"))
    apply_payment(dispute_to_signal(dispute, raw_ref="evt_2"))
    audit_rows = AuditLog.objects.count()

    result = run_command("--provider", "stripe")

    assert AuditLog.objects.count() == audit_rows
    assert result.counts(provider="stripe") == {"seen": 2, "known": 2, "new": 0, "changed": 0, "errors": 0}


def test_a_second_run_changes_nothing(event, providers):
    stripe, _ = providers
    for i in range(3):
        stripe.dispute(stripe.add_session(email=f"p{i}@example.org"))
    run_command("--provider", "stripe")
    audit_rows = AuditLog.objects.count()
    disputes = list(Dispute.objects.order_by("pk").values())

    second = run_command("--provider", "stripe")

    assert AuditLog.objects.count() == audit_rows
    assert list(Dispute.objects.order_by("pk").values()) == disputes
    assert second.counts(provider="stripe") == {"seen": 6, "known": 6, "new": 0, "changed": 0, "errors": 0}


def test_dry_run_records_no_dispute_and_says_what_it_would_add(event, providers):
    stripe, _ = providers
    known = stripe.add_session(email="known@example.org")
    closing = stripe.add_session(email="closing@example.org")
    closing_dispute = stripe.dispute(closing)
    run_command("--provider", "stripe")
    stripe.dispute(known, reason="product_not_received")
    stripe.set_dispute_status(closing_dispute, "lost")
    before = (
        list(Dispute.objects.order_by("pk").values()),
        list(Payment.objects.order_by("pk").values()),
        ReviewItem.objects.count(),
        AuditLog.objects.count(),
    )

    result = run_command("--provider", "stripe", "--dry-run")

    after = (
        list(Dispute.objects.order_by("pk").values()),
        list(Payment.objects.order_by("pk").values()),
        ReviewItem.objects.count(),
        AuditLog.objects.count(),
    )
    assert after == before
    assert not Payment.objects.get(email="known@example.org").disputed
    assert result.counts(provider="stripe") == {"seen": 4, "known": 2, "new": 1, "changed": 1, "errors": 0}
    assert "would add" in result.out and "product_not_received" in result.out
    assert "would change" in result.out and "lost" in result.out

    real = run_command("--provider", "stripe")
    assert real.run.counts == result.run.counts
    assert Dispute.objects.get(dispute_id=closing_dispute["id"]).status == "lost"


def test_dry_run_of_a_missed_payment_and_its_dispute_leaves_the_database_empty(event, providers):
    stripe, _ = providers
    stripe.dispute(stripe.add_session(email="river@example.org"))

    result = run_command("--provider", "stripe", "--dry-run")

    assert not Dispute.objects.exists() and not Payment.objects.exists() and not AuditLog.objects.exists()
    assert result.counts(provider="stripe") == {"seen": 2, "known": 0, "new": 2, "changed": 0, "errors": 0}


def test_disputes_of_payments_that_are_not_ours_are_left_alone(event, providers):
    stripe, _ = providers
    stripe.dispute(stripe.add_session(email="shop@example.org", payment_link="plink_someone_else"))

    result = run_command("--provider", "stripe")

    assert not Dispute.objects.exists() and not Payment.objects.exists()
    assert result.counts(provider="stripe") == QUIET


def test_a_dispute_of_an_event_not_selected_is_left_alone(event, providers):
    stripe, _ = providers
    other = EventFactory(slug="autumn-retreat", name="Autumn Retreat")
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PAYMENT_LINK, value="plink_autumn", event=other)
    autumn = stripe.add_session(email="autumn@example.org", payment_link="plink_autumn")
    run_command("--provider", "stripe")  # both events: the autumn payment is stored
    stripe.dispute(autumn)

    result = run_command("--provider", "stripe", "--event", "spring-retreat")

    assert not Dispute.objects.exists()
    assert not Payment.objects.get().disputed
    assert "autumn-retreat" not in result.run.counts
    assert result.counts(provider="stripe") == QUIET

    found = run_command("--provider", "stripe", "--event", "autumn-retreat")
    assert Dispute.objects.get().payment == Payment.objects.get()
    assert found.counts("autumn-retreat", "stripe") == {"seen": 2, "known": 1, "new": 1, "changed": 0, "errors": 0}


def test_a_dispute_older_than_the_window_is_left_to_backfill(event, providers):
    stripe, _ = providers
    session = stripe.add_session(email="old@example.org", created=int(time.time()) - 20 * 86400)
    run_command("--provider", "stripe", "--since", "30d")
    stripe.dispute(session, created=int(time.time()) - 10 * 86400)

    result = run_command("--provider", "stripe", "--since", "3d")
    assert not Dispute.objects.exists()
    assert result.counts(provider="stripe") == QUIET

    run_command("--provider", "stripe", "--since", "14d")
    assert Payment.objects.get().disputed


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the failure used here is PostgreSQL refusing a value longer than the column (SQLite stores it)",
)
def test_a_dispute_listed_before_its_payment_is_stored_is_kept_and_attached_later(event, providers):
    stripe, _ = providers
    session = stripe.add_session(email="river@example.org", name="x" * 300)  # Payment.name: 200 characters
    dispute = stripe.dispute(session)

    first = run_command("--provider", "stripe", expect_ok=False)

    assert not Payment.objects.exists()  # the payment could not be applied (an error of this run)
    kept = Dispute.objects.get()
    assert kept.dispute_id == dispute["id"] and kept.payment is None
    assert first.counts(provider="stripe") == {"seen": 2, "known": 0, "new": 1, "changed": 0, "errors": 1}

    session["customer_details"]["name"] = "River Stone"
    second = run_command("--provider", "stripe")

    payment = Payment.objects.get()
    assert Dispute.objects.get().payment == payment and payment.disputed
    assert Registration.objects.get().status == Status.NEEDS_REVIEW
    assert ReviewItem.objects.filter(kind=ReviewItem.Kind.DISPUTE).count() == 1
    assert second.counts(provider="stripe") == {"seen": 2, "known": 1, "new": 1, "changed": 0, "errors": 0}


def test_disputes_are_listed_a_hundred_per_call_and_only_those_in_the_window(fake_stripe):
    now = int(time.time())
    session = fake_stripe.add_session()
    recent = {fake_stripe.dispute(session, created=now - i)["id"] for i in range(150)}
    fake_stripe.dispute(session, created=now - 5 * 86400)

    pages = list(stripe_dispute_pages(stripe_client(), created_gte=now - 86400))

    assert [len(p) for p in pages] == [100, 50]
    assert {d["id"] for page in pages for d in page} == recent
    assert fake_stripe.count("GET", r"^/v1/disputes$") == 2
