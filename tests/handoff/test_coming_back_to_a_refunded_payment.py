"""The group page tells the payer to keep its address and come back to it; the single-payment
address stays in the browser's history. After the payment was refunded in full, coming back must
not thank them for paying nor hand out booking links (or send them on to book) as if it stood."""

from registrations.models import Payment


def _refund_in_full(session):
    payment = Payment.objects.get(checkout_session_id=session["id"])
    Payment.objects.filter(pk=payment.pk).update(amount_refunded=payment.amount)


def test_coming_back_to_the_group_page_after_a_full_refund_shows_no_seat_links(client, fake_stripe, fake_acuity, event):
    group = fake_stripe.add_session(email="sky@example.org", name="Sky Lee", quantity=3, amount=36000)
    first = client.get("/r/paid/", {"session_id": group["id"], "event": "spring-retreat"}).content.decode()
    assert "Booking link" in first
    _refund_in_full(group)

    response = client.get("/r/paid/", {"session_id": group["id"], "event": "spring-retreat"})

    body = response.content.decode()
    assert response.status_code == 200
    assert "refunded" in body
    assert "Booking link" not in body and "acuityscheduling.com" not in body and "Thank you" not in body


def test_coming_back_to_a_refunded_single_payment_is_not_sent_on_to_book(client, fake_stripe, fake_acuity, event):
    single = fake_stripe.add_session(email="ash@example.org", name="Ash Moreno")
    assert client.get("/r/paid/", {"session_id": single["id"], "event": "spring-retreat"}).status_code == 302
    _refund_in_full(single)

    response = client.get("/r/paid/", {"session_id": single["id"], "event": "spring-retreat"})

    assert response.status_code == 200
    body = response.content.decode()
    assert "refunded" in body and "acuityscheduling.com" not in body
