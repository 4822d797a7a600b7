"""A bank debit that fails once the event has started: the "didn't go through" page no longer
offers to try paying again through the Payment Link (nor the donation link); it says the event has
started and to reply to the confirmation email, as the other handoff pages do
(test_started_event_link_pages.py)."""

import re
from datetime import timedelta

from django.utils import timezone

from integrations.parsing import session_to_signal
from registrations.models import Payment
from registrations.services import apply_payment

TOLD_WHOM_TO_ASK = re.compile(r"The event has already started[^<]*Reply to your confirmation email and the organisers")


def _start(event):
    event.starts_at = timezone.now() - timedelta(hours=1)
    event.save()


def _fail(session):
    apply_payment(session_to_signal(session, event_type="checkout.session.async_payment_failed", raw_ref="evt_fail"))


def test_failed_payment_after_the_start_says_it_started_instead_of_offering_to_pay_again(
    client, fake_stripe, fake_acuity, event
):
    _start(event)
    s = fake_stripe.add_session(email="river@example.org", payment_status="unpaid")
    _fail(s)

    resp = client.get("/r/paid/", {"session_id": s["id"], "event": "spring-retreat"})

    assert resp.status_code == 200
    body = resp.content.decode()
    assert "Your payment didn" in body and "nothing was taken" in body
    assert TOLD_WHOM_TO_ASK.search(body), body
    assert "places can no longer be paid for online" in body
    assert "Try paying again" not in body and "buy.stripe.com" not in body
    assert "organisers will be in touch about paying another way" not in body
    assert Payment.objects.get().state == Payment.State.FAILED


def test_failed_group_payment_after_the_start_offers_no_link_to_pay_again(client, fake_stripe, fake_acuity, event):
    _start(event)
    s = fake_stripe.add_session(email="pat@example.org", amount=24000, quantity=2, payment_status="unpaid")
    _fail(s)

    body = client.get("/r/paid/", {"session_id": s["id"], "event": "spring-retreat"}).content.decode()

    assert TOLD_WHOM_TO_ASK.search(body), body
    assert "Try paying again" not in body and "buy.stripe.com" not in body


def test_failed_donation_after_the_start_offers_no_donation_link(client, fake_stripe, fake_acuity, donation_event):
    _start(donation_event)
    s = fake_stripe.add_session(
        email="river@example.org", payment_status="unpaid", payment_link="plink_forest", amount=2500
    )
    _fail(s)

    body = client.get("/r/paid/", {"session_id": s["id"], "event": "forest-sit"}).content.decode()

    assert TOLD_WHOM_TO_ASK.search(body), body
    assert "donations can no longer be given online" in body
    assert "Try paying again" not in body and "donate.stripe.com" not in body


def test_failed_payment_before_the_start_still_offers_to_pay_again(client, fake_stripe, fake_acuity, event):
    s = fake_stripe.add_session(email="river@example.org", payment_status="unpaid")
    _fail(s)

    body = client.get("/r/paid/", {"session_id": s["id"], "event": "spring-retreat"}).content.decode()

    assert "Try paying again" in body and "https://buy.stripe.com/test_spring?" in body
    assert "already started" not in body
