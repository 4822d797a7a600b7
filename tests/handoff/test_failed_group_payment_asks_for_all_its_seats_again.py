"""A group bank debit (one payment for several seats) that fails: the "didn't go through" page
must say the payment was for that many seats and that paying again means choosing that many
seats on the payment page (a Payment Link address cannot set the quantity), or asking the
organisers. Otherwise the payer may pay for one seat and the friends' seats stay unpaid."""

from datetime import timedelta

from django.utils import timezone

from integrations.parsing import session_to_signal
from registrations.models import Payment
from registrations.services import apply_payment


def _fail(session):
    apply_payment(session_to_signal(session, event_type="checkout.session.async_payment_failed", raw_ref="evt_fail"))


def _page(client, session, slug="spring-retreat"):
    resp = client.get("/r/paid/", {"session_id": session["id"], "event": slug})
    assert resp.status_code == 200
    return resp.content.decode()


def _failed_group_debit(client, fake_stripe, seats=3):
    debit = fake_stripe.add_session(
        email="pat.payer@example.org", quantity=seats, amount=12000 * seats, payment_status="unpaid"
    )
    _page(client, debit)  # the payer lands on the group page while the debit clears
    _fail(debit)
    assert Payment.objects.get(checkout_session_id=debit["id"]).state == Payment.State.FAILED
    return debit


def test_failed_group_debit_says_it_was_for_three_seats_and_to_choose_three_when_paying_again(
    client, fake_stripe, fake_acuity, event
):
    debit = _failed_group_debit(client, fake_stripe, seats=3)

    body = _page(client, debit)

    assert "Your payment didn" in body and "nothing was taken" in body
    assert "for 3 seats" in body
    assert "choose 3 seats" in body
    assert "organisers will help you pay for all 3 seats" in body
    assert "Try paying again for 3 seats" in body and "buy.stripe.com" in body


def test_failed_single_seat_debit_mentions_no_seats(client, fake_stripe, fake_acuity, event):
    debit = fake_stripe.add_session(email="river@example.org", payment_status="unpaid")
    _page(client, debit)
    _fail(debit)

    body = _page(client, debit)

    assert "Try paying again" in body and "seats" not in body


def test_failed_group_debit_after_the_start_still_offers_no_paying_again(client, fake_stripe, fake_acuity, event):
    debit = _failed_group_debit(client, fake_stripe, seats=2)
    event.starts_at = timezone.now() - timedelta(hours=1)
    event.save()

    body = _page(client, debit)

    assert "places can no longer be paid for online" in body
    assert "Try paying again" not in body and "buy.stripe.com" not in body


def test_failed_debit_for_two_seats_says_both_seats_not_all_2_seats(client, fake_stripe, fake_acuity, event):
    debit = _failed_group_debit(client, fake_stripe, seats=2)

    body = _page(client, debit)

    assert "all 2 seats" not in body
    assert "help you pay for both seats" in body
    assert "choose 2 seats" in body
