"""Link checkers and some browsers' prefetchers send HEAD to /r/paid/ and /r/booked/ (the pages
Stripe and Acuity send attendees back to). They get an answer like GET's, with no body, instead
of 405; a HEAD looks nothing up and records nothing: no payment or booking applied, no handoff
audit row, no look-up counted against the client's hourly allowance."""

from django.apps import apps

from registrations.models import AuditLog, Booking, Payment, RateLimitBucket, Registration

from .conftest import ATYPE


def _rows() -> dict:
    return {m._meta.label: m.objects.count() for m in apps.get_models() if m._meta.app_label == "registrations"}


def test_a_head_request_to_the_paid_page_answers_and_changes_nothing(client, fake_stripe, fake_acuity, event):
    s = fake_stripe.add_session(email="river@example.org")
    before = _rows()

    response = client.head("/r/paid/", {"session_id": s["id"], "event": "spring-retreat"})

    assert response.status_code == 200 and response.content == b""
    assert response["Cache-Control"] == "no-store" and response["X-Robots-Tag"] == "noindex, nofollow"
    assert _rows() == before
    assert not Payment.objects.exists() and not Registration.objects.exists() and not AuditLog.objects.exists()
    assert not [r for r in fake_stripe.requests if "/checkout/sessions/" in r.path]


def test_a_head_request_to_the_booked_page_answers_and_changes_nothing(client, fake_stripe, fake_acuity, event):
    appt = fake_acuity.add_appointment(email="river@example.org", appointment_type_id=ATYPE)
    before = _rows()

    response = client.head("/r/booked/", {"appointment": appt["id"], "event": "spring-retreat"})

    assert response.status_code == 200 and response.content == b""
    assert _rows() == before
    assert not Booking.objects.exists() and not AuditLog.objects.exists() and not RateLimitBucket.objects.exists()


def test_a_head_request_with_a_malformed_id_gets_the_not_found_answer_like_get(client, fake_stripe, event):
    assert client.head("/r/paid/", {"session_id": "nope"}).status_code == 404
    assert client.head("/r/booked/", {"appointment": "x"}).status_code == 404


def test_the_paid_page_still_records_the_payment_on_get(client, fake_stripe, fake_acuity, event):
    s = fake_stripe.add_session(email="river@example.org")

    assert client.get("/r/paid/", {"session_id": s["id"]}).status_code == 302
    assert Payment.objects.count() == 1 and AuditLog.objects.filter(action="payment.recorded").exists()
