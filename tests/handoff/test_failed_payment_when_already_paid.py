"""A bank debit that fails while the registration is already paid another way, or while another
bank debit of theirs is still clearing: the "didn't go through" page must not offer "Try paying
again" (that would charge them twice). It says they are already paid, or that their other payment
is being confirmed, as /r/booked/ does for a clearing debit."""

from datetime import timedelta

from django.utils import timezone

from integrations.parsing import session_to_signal
from registrations.models import Payment, Registration
from registrations.services import apply_payment


def _record(fake_stripe, session, raw_ref):
    apply_payment(session_to_signal(session, line_items=fake_stripe.line_items[session["id"]], raw_ref=raw_ref))


def _fail(session):
    apply_payment(session_to_signal(session, event_type="checkout.session.async_payment_failed", raw_ref="evt_fail"))


def _failed_page(client, session, slug):
    resp = client.get("/r/paid/", {"session_id": session["id"], "event": slug})
    assert resp.status_code == 200
    return resp.content.decode()


def test_failed_debit_of_someone_already_paid_by_card_says_they_are_paid_not_try_again(
    client, fake_stripe, fake_acuity, event
):
    card = fake_stripe.add_session(email="river@example.org")
    _record(fake_stripe, card, "evt_card")
    debit = fake_stripe.add_session(email="river@example.org", payment_status="unpaid")
    _fail(debit)
    assert Registration.objects.count() == 1

    body = _failed_page(client, debit, "spring-retreat")

    assert "Your payment didn" in body and "nothing was taken" in body
    assert "already paid" in body and "no need to pay again" in body
    assert "Try paying again" not in body and "buy.stripe.com" not in body
    assert "paying another way" not in body


def test_failed_debit_while_another_debit_clears_says_that_one_is_being_confirmed(
    client, fake_stripe, fake_acuity, event
):
    other = fake_stripe.add_session(email="river@example.org", payment_status="unpaid")
    _record(fake_stripe, other, "evt_other")
    debit = fake_stripe.add_session(email="river@example.org", payment_status="unpaid")
    _fail(debit)
    assert sorted(Payment.objects.values_list("state", flat=True)) == ["failed", "unpaid"]

    body = _failed_page(client, debit, "spring-retreat")

    assert "other payment" in body and "being confirmed" in body and "no need to pay again" in body
    assert "Try paying again" not in body and "buy.stripe.com" not in body


def test_failed_donation_of_someone_who_already_gave_offers_no_donation_link(
    client, fake_stripe, fake_acuity, donation_event
):
    gift = fake_stripe.add_session(email="river@example.org", payment_link="plink_forest", amount=2500)
    _record(fake_stripe, gift, "evt_gift")
    debit = fake_stripe.add_session(
        email="river@example.org", payment_link="plink_forest", amount=2500, payment_status="unpaid"
    )
    _fail(debit)

    body = _failed_page(client, debit, "forest-sit")

    assert "donation already came through" in body
    assert "Try paying again" not in body and "donate.stripe.com" not in body


def test_failed_debit_of_someone_already_paid_after_the_start_says_they_are_paid(
    client, fake_stripe, fake_acuity, event
):
    card = fake_stripe.add_session(email="river@example.org")
    _record(fake_stripe, card, "evt_card")
    debit = fake_stripe.add_session(email="river@example.org", payment_status="unpaid")
    _fail(debit)
    event.starts_at = timezone.now() - timedelta(hours=1)
    event.save()

    body = _failed_page(client, debit, "spring-retreat")

    assert "already paid" in body
    assert "can no longer be paid for online" not in body
    assert "Try paying again" not in body and "buy.stripe.com" not in body
