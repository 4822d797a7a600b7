"""A bank debit still clearing when the payer lands on /r/paid/ after the event has started: the
page must not claim "The organisers have your payment" (nothing has arrived yet). It says the
organisers will have it once the bank confirms it; a payment that went through still says they
have it."""

from datetime import timedelta

from django.utils import timezone


def _start(event):
    event.starts_at = timezone.now() - timedelta(hours=1)
    event.save()


def test_clearing_payment_after_the_start_does_not_say_the_organisers_have_it(client, fake_stripe, fake_acuity, event):
    _start(event)
    s = fake_stripe.add_session(email="river@example.org", payment_status="unpaid")

    body = client.get("/r/paid/", {"session_id": s["id"], "event": "spring-retreat"}).content.decode()

    assert "confirming your payment" in body
    assert "places can no longer be booked online" in body
    assert "organisers have your payment" not in body
    assert "once your bank confirms it" in body
    assert "acuityscheduling.com" not in body


def test_payment_that_went_through_after_the_start_still_says_the_organisers_have_it(
    client, fake_stripe, fake_acuity, event
):
    _start(event)
    s = fake_stripe.add_session(email="river@example.org")

    body = client.get("/r/paid/", {"session_id": s["id"], "event": "spring-retreat"}).content.decode()

    assert "The organisers have your payment and will be in touch." in body
