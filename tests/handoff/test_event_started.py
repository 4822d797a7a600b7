"""Paying after the event has started (a Payment Link is still live, e.g. scanned at the door):
the attendee is thanked, not sent to Acuity to book a place in an event already under way."""

from datetime import timedelta

from django.utils import timezone

from registrations.models import Registration, Status


def test_paying_after_the_event_started_thanks_them_instead_of_sending_them_to_book(
    client, fake_stripe, fake_acuity, event
):
    event.starts_at = timezone.now() - timedelta(hours=1)
    event.save()
    s = fake_stripe.add_session(email="river@example.org")

    response = client.get("/r/paid/", {"session_id": s["id"], "event": "spring-retreat"})

    assert response.status_code == 200  # not a redirect to Acuity
    body = response.content.decode()
    assert "your payment went through" in body and "already started" in body
    assert "acuityscheduling.com" not in body and "Book your place" not in body
    assert Registration.objects.get().status == Status.PAID_ONLY  # the payment is recorded all the same
