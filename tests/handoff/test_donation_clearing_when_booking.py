"""Someone who gave by bank debit and then books a donation-based event while that debit is still
clearing: the "all set" page must not offer "Give a donation" again (a second gift would be taken
when both clear). It says their donation is being confirmed, as a normal event's booker with a
clearing debit is told their payment is (test_booked.py)."""

from datetime import timedelta

from django.utils import timezone

from integrations.parsing import session_to_signal
from registrations.models import Registration, Status
from registrations.services import apply_payment


def _give_by_bank_debit(fake_stripe):
    s = fake_stripe.add_session(
        email="river@example.org", payment_link="plink_forest", amount=2500, payment_status="unpaid"
    )
    apply_payment(session_to_signal(s, line_items=fake_stripe.line_items[s["id"]], raw_ref="evt_gift"))


def _book(client, fake_acuity):
    appt = fake_acuity.add_appointment(email="river@example.org", appointment_type_id=4440002)
    resp = client.get("/r/booked/", {"appointment": appt["id"], "event": "forest-sit"})
    assert resp.status_code == 200
    return resp.content.decode()


def test_booker_whose_donation_debit_is_clearing_is_not_asked_to_give_again(
    client, fake_stripe, fake_acuity, donation_event
):
    _give_by_bank_debit(fake_stripe)

    body = _book(client, fake_acuity)

    assert "all set" in body and "Your place is booked" in body
    assert "donation" in body and "being confirmed" in body and "no need to give again" in body
    assert "Give a donation" not in body and "donate.stripe.com" not in body
    assert Registration.objects.get().status == Status.COMPLETE


def test_after_the_start_a_clearing_donation_is_still_said_to_be_being_confirmed(
    client, fake_stripe, fake_acuity, donation_event
):
    _give_by_bank_debit(fake_stripe)
    donation_event.starts_at = timezone.now() - timedelta(hours=1)
    donation_event.save()

    body = _book(client, fake_acuity)

    assert "being confirmed" in body
    assert "donations can no longer be given online" not in body
    assert "Give a donation" not in body and "donate.stripe.com" not in body
