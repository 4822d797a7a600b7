"""Processing stored Stripe deliveries: every handled event type, through the real SDK against the
fake Stripe, ending in registration statuses an operator sees."""

import logging

import pytest

from integrations.tasks import process_webhook
from registrations.models import AuditLog, Dispute, EventMapping, Payment, Registration, ReviewItem, Status
from tests.fakes import stripe as stripe_fake

from .conftest import PRICE, inbox, run_queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def deliver(post_stripe):
    """POST the event, then run what the worker would run. Returns the inbox row."""

    def deliver(evt):
        assert post_stripe(evt).status_code == 200
        run_queue()
        return inbox(evt["id"])

    return deliver


def registration() -> Registration:
    return Registration.objects.select_related("attendee").get()


def line_item_calls(fake, session):
    return fake.count("GET", rf"/v1/checkout/sessions/{session['id']}/line_items")


def test_a_paid_checkout_makes_the_payer_paid_only_with_email_from_customer_details(deliver, fake_stripe, event):
    session = fake_stripe.add_session(email="River.Stone@Example.org", name="River Stone")

    row = deliver(fake_stripe.session_event(session))

    assert row.status == "processed"
    reg = registration()
    assert (reg.status, reg.attendee.email, reg.event) == (Status.PAID_ONLY, "river.stone@example.org", event)
    payment = Payment.objects.get()
    assert (payment.state, payment.amount, payment.quantity) == ("paid", 12000, 1)
    assert reg.reference in row.result and "paid_only" in row.result


def test_the_quantity_comes_from_the_line_items_and_a_group_purchase_is_flagged(deliver, fake_stripe, event):
    session = fake_stripe.add_session(amount=36000, quantity=3)

    deliver(fake_stripe.session_event(session))

    assert Payment.objects.get().quantity == 3
    assert ReviewItem.objects.filter(kind=ReviewItem.Kind.GROUP_PAYMENT).exists()
    assert registration().status == Status.NEEDS_REVIEW


def test_line_items_are_fetched_once_per_session(deliver, fake_stripe, event):
    session = fake_stripe.add_session(payment_status="unpaid")
    deliver(fake_stripe.session_event(session))
    assert line_item_calls(fake_stripe, session) == 1

    session["payment_status"] = "paid"
    deliver(fake_stripe.session_event(session, "checkout.session.async_payment_succeeded"))

    assert line_item_calls(fake_stripe, session) == 1  # the Payment already had its quantity
    assert Payment.objects.get().state == "paid"


def test_a_completed_but_unpaid_bank_debit_is_not_paid_until_the_async_success(deliver, fake_stripe, event):
    session = fake_stripe.add_session(payment_status="unpaid")

    deliver(fake_stripe.session_event(session))
    assert Payment.objects.get().state == "unpaid"
    assert registration().status == Status.PENDING

    session["payment_status"] = "paid"
    deliver(fake_stripe.session_event(session, "checkout.session.async_payment_succeeded"))
    assert registration().status == Status.PAID_ONLY


def test_an_async_payment_failure_marks_the_payment_failed(deliver, fake_stripe, event):
    session = fake_stripe.add_session(payment_status="unpaid")
    deliver(fake_stripe.session_event(session))

    row = deliver(fake_stripe.session_event(session, "checkout.session.async_payment_failed"))

    assert row.status == "processed"
    assert Payment.objects.get().state == "failed"
    assert registration().status != Status.PAID_ONLY


def test_an_expired_checkout_is_recorded_and_registers_nobody(deliver, fake_stripe, event):
    session = fake_stripe.add_session(payment_status="unpaid", status="expired")

    row = deliver(fake_stripe.session_event(session, "checkout.session.expired"))

    assert row.status == "processed"
    assert Payment.objects.get().state == "expired"
    assert Registration.objects.count() == 0
    assert line_item_calls(fake_stripe, session) == 0


def test_a_payment_intent_first_is_mapped_to_its_session_through_the_api(deliver, fake_stripe, event):
    session = fake_stripe.add_session(email="ash@example.org")

    row = deliver(fake_stripe.payment_intent_event(session))

    assert row.status == "processed"
    assert fake_stripe.count("GET", r"^/v1/checkout/sessions$") == 1
    assert fake_stripe.requests[0].query["payment_intent"] == session["payment_intent"]
    payment = Payment.objects.get()
    assert (payment.checkout_session_id, payment.email, payment.state) == (session["id"], "ash@example.org", "paid")
    assert payment.charge_id == fake_stripe.charge_for(session)["id"]
    assert registration().status == Status.PAID_ONLY

    deliver(fake_stripe.session_event(session))  # the session event arriving later changes nothing
    assert Payment.objects.count() == 1
    assert registration().status == Status.PAID_ONLY


def test_a_payment_intent_for_a_known_session_needs_no_api_call(deliver, fake_stripe, event):
    session = fake_stripe.add_session()
    deliver(fake_stripe.session_event(session))
    fake_stripe.reset_requests()

    deliver(fake_stripe.payment_intent_event(session))

    assert fake_stripe.requests == []
    assert Payment.objects.get().charge_id == fake_stripe.charge_for(session)["id"]


def test_partial_then_full_charge_refunds_use_the_cumulative_amount(deliver, fake_stripe, event):
    session = fake_stripe.add_session()
    deliver(fake_stripe.session_event(session))

    fake_stripe.refund(session, 5000)
    deliver(fake_stripe.charge_refunded_event(session))
    assert Payment.objects.get().amount_refunded == 5000
    assert registration().status == Status.PAID_ONLY

    fake_stripe.refund(session)  # the rest
    deliver(fake_stripe.charge_refunded_event(session))
    assert Payment.objects.get().amount_refunded == 12000
    assert registration().status == Status.REFUNDED


def test_refund_created_updated_and_failed_events(deliver, fake_stripe, event):
    session = fake_stripe.add_session()
    deliver(fake_stripe.session_event(session))
    refund = fake_stripe.refund(session)
    refund["status"] = "pending"

    deliver(stripe_fake.event("refund.created", dict(refund)))
    assert registration().status == Status.REFUNDED  # a pending full refund already counts

    deliver(stripe_fake.event("refund.updated", dict(refund, status="succeeded")))
    assert Payment.objects.get().amount_refunded == 12000

    failed = deliver(stripe_fake.event("refund.failed", dict(refund, status="failed")))
    assert failed.status == "processed"
    assert Payment.objects.get().amount_refunded == 0
    # Paid again, with a "Refund failed" card for the operator: needs review until it is dealt with.
    assert registration().status == Status.NEEDS_REVIEW
    (card,) = ReviewItem.objects.filter(kind=ReviewItem.Kind.REFUND_FAILED, state=ReviewItem.State.OPEN)
    assert card.registration == registration() and refund["id"] in card.explanation


def test_a_refund_that_arrives_before_the_payment_still_ends_refunded(deliver, fake_stripe, event):
    session = fake_stripe.add_session()
    fake_stripe.refund(session)

    first = deliver(fake_stripe.charge_refunded_event(session))
    assert first.status == "processed" and Registration.objects.count() == 0

    deliver(fake_stripe.session_event(session))
    deliver(fake_stripe.payment_intent_event(session))
    assert registration().status == Status.REFUNDED


def test_a_dispute_that_arrives_before_the_payment_puts_the_registration_in_review(deliver, fake_stripe, event):
    session = fake_stripe.add_session()
    dispute = fake_stripe.dispute_object(session)

    deliver(stripe_fake.event("charge.dispute.created", dispute))
    assert Dispute.objects.get().payment is None

    deliver(fake_stripe.payment_intent_event(session))
    assert registration().status == Status.NEEDS_REVIEW
    assert Payment.objects.get().disputed is True


def test_dispute_updates_and_closure_are_recorded(deliver, fake_stripe, event):
    session = fake_stripe.add_session()
    deliver(fake_stripe.session_event(session))
    dispute = fake_stripe.dispute_object(session)
    deliver(stripe_fake.event("charge.dispute.created", dispute))
    deliver(stripe_fake.event("charge.dispute.updated", dict(dispute, status="under_review")))
    deliver(stripe_fake.event("charge.dispute.closed", dict(dispute, status="won")))
    assert Dispute.objects.get().status == "won"


def test_an_event_is_mapped_by_price_when_the_payment_link_is_not_mapped(deliver, fake_stripe, event):
    EventMapping.objects.filter(kind=EventMapping.Kind.STRIPE_PAYMENT_LINK).delete()
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PRICE, value=PRICE, event=event)

    deliver(fake_stripe.session_event(fake_stripe.add_session(payment_link=None)))

    assert registration().event == event


def test_an_event_is_mapped_by_metadata(deliver, fake_stripe, event):
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_METADATA, value="event=spring-2027", event=event)

    deliver(fake_stripe.session_event(fake_stripe.add_session(payment_link=None, metadata={"event": "spring-2027"})))

    assert registration().event == event


def test_an_unmapped_payment_link_is_kept_and_listed_for_review(deliver, fake_stripe, event):
    row = deliver(fake_stripe.session_event(fake_stripe.add_session(payment_link="plink_unknown")))
    assert row.status == "processed" and "event not mapped" in row.result
    assert ReviewItem.objects.filter(kind=ReviewItem.Kind.UNMATCHED_EVENT).exists()


def test_the_audit_trail_and_the_log_name_the_provider_event(deliver, fake_stripe, event, caplog):
    caplog.set_level(logging.INFO, logger="integrations.tasks")
    evt = fake_stripe.session_event(fake_stripe.add_session())

    deliver(evt)

    assert AuditLog.objects.filter(actor_source=f"webhook:{evt['id']}", action="payment.recorded").exists()
    [line] = [r for r in caplog.records if r.name == "integrations.tasks" and "processed" in r.getMessage()]
    assert line.event_id == evt["id"] and evt["id"] in line.getMessage()


def test_processing_twice_changes_nothing_the_second_time(post_stripe, fake_stripe, event):
    evt = fake_stripe.session_event(fake_stripe.add_session())
    post_stripe(evt)
    pk = inbox(evt["id"]).pk
    assert process_webhook(pk) == "processed"
    audit_rows = AuditLog.objects.count()

    assert process_webhook(pk) == "processed"  # a duplicate task: the row is done, nothing runs

    assert AuditLog.objects.count() == audit_rows
    assert inbox(evt["id"]).attempts == 1
