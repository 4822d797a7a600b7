"""/r/paid/: after paying, the attendee lands on the booking page with everything prefilled."""

from integrations.parsing import appointment_to_signal, session_to_signal
from registrations.models import AuditLog, Payment, Registration, ReviewItem, Source, Status
from registrations.services import apply_booking, apply_payment

from .conftest import ATYPE, PLINK, REF_FIELD, book_through, query


def _paid(client, session_id, **extra):
    return client.get("/r/paid/", {"session_id": session_id, **extra})


def test_paying_redirects_to_booking_with_prefill_and_reference(client, fake_stripe, fake_acuity, event):
    s = fake_stripe.add_session(email="River.Stone@Example.org", name="River Stone", phone="+14155550123")
    resp = _paid(client, s["id"], event="spring-retreat")

    assert resp.status_code == 302
    reg = Registration.objects.get(event=event)
    q = query(resp["Location"])
    assert resp["Location"].startswith("https://app.acuityscheduling.com/schedule.php?owner=21991&")
    assert (q["firstName"], q["lastName"], q["email"], q["phone"]) == (
        "River",
        "Stone",
        "river.stone@example.org",
        "+14155550123",
    )
    assert q["appointmentType"] == str(ATYPE)
    assert q[f"field:{REF_FIELD}"] == reg.reference
    assert reg.status == Status.PAID_ONLY
    payment = Payment.objects.get()
    assert payment.source == Source.HANDOFF and payment.quantity == 1 and payment.state == "paid"
    # The session was fetched server-side with its line items.
    fetched = [r for r in fake_stripe.requests if r.path == f"/v1/checkout/sessions/{s['id']}"]
    assert fetched and fetched[0].query.get("expand[0]") == "line_items"
    audit = AuditLog.objects.get(action="payment.recorded")
    assert audit.actor_type == "system" and audit.actor_source == "handoff"


def test_already_booked_payer_sees_all_set(client, fake_stripe, fake_acuity, event):
    appt = fake_acuity.add_appointment(email="river@example.org", appointment_type_id=ATYPE)
    apply_booking(appointment_to_signal(appt))
    s = fake_stripe.add_session(email="river@example.org")

    resp = _paid(client, s["id"])

    assert resp.status_code == 200
    assert b"all set" in resp.content
    assert Registration.objects.get().status == Status.COMPLETE


def test_bank_debit_still_clearing_shows_confirming_page_with_booking_link(client, fake_stripe, fake_acuity, event):
    s = fake_stripe.add_session(email="river@example.org", payment_status="unpaid")

    resp = _paid(client, s["id"])

    assert resp.status_code == 200
    body = resp.content.decode()
    assert "confirming your payment" in body
    reg = Registration.objects.get()
    assert f"field:{REF_FIELD}={reg.reference}" in body
    assert Payment.objects.get().state == "unpaid"
    assert reg.status == Status.PENDING


def test_failed_bank_debit_offers_to_pay_again(client, fake_stripe, fake_acuity, event):
    s = fake_stripe.add_session(email="river@example.org", payment_status="unpaid")
    apply_payment(session_to_signal(s, event_type="checkout.session.async_payment_failed", raw_ref="evt_fail"))

    resp = _paid(client, s["id"])

    assert resp.status_code == 200
    assert b"didn&#x27;t go through" in resp.content or b"didn't go through" in resp.content
    assert b"https://buy.stripe.com/test_spring?prefilled_email=river%40example.org" in resp.content


def test_reference_on_the_payment_decides_the_registration(client, fake_stripe, fake_acuity, event):
    """Booked first as one address; paid (through our payment link) as another."""
    appt = fake_acuity.add_appointment(email="river@home.example", appointment_type_id=ATYPE)
    booked = apply_booking(appointment_to_signal(appt)).registration
    s = fake_stripe.add_session(email="river@work.example", client_reference_id=booked.reference)

    resp = _paid(client, s["id"])

    assert resp.status_code == 200 and b"all set" in resp.content
    assert Registration.objects.count() == 1
    booked.refresh_from_db()
    assert booked.status == Status.COMPLETE
    assert booked.attendee.aliases.filter(email="river@work.example").exists()
    assert not ReviewItem.objects.exists()


def test_group_purchase_gets_one_booking_link_per_seat(client, fake_stripe, fake_acuity, event):
    s = fake_stripe.add_session(email="pat@example.org", name="Pat Payer", amount=36000, quantity=3)

    resp = _paid(client, s["id"])

    assert resp.status_code == 200
    body = resp.content.decode()
    payer = Registration.objects.get()
    seats = list(Payment.objects.get().seat_references.order_by("seat"))
    assert [x.seat for x in seats] == [2, 3]
    refs = [payer.reference] + [x.reference for x in seats]
    assert len(set(refs)) == 3
    for ref in refs:
        assert f"field:{REF_FIELD}={ref}" in body
    # Reloading the page hands out the same seats.
    again = _paid(client, s["id"]).content.decode()
    assert [x.reference for x in Payment.objects.get().seat_references.order_by("seat")] == refs[1:]
    assert all(f"field:{REF_FIELD}={ref}" in again for ref in refs)


def test_group_seats_booked_by_friends_complete_everyone_and_resolve_the_group_item(
    client, fake_stripe, fake_acuity, event
):
    s = fake_stripe.add_session(email="pat@example.org", name="Pat Payer", amount=36000, quantity=3)
    page = _paid(client, s["id"]).content.decode()
    payer = Registration.objects.get()
    item = ReviewItem.objects.get(kind=ReviewItem.Kind.GROUP_PAYMENT)
    assert item.state == "open" and payer.status == Status.NEEDS_REVIEW
    seat_refs = [x.reference for x in Payment.objects.get().seat_references.order_by("seat")]

    # Each person books with their own link (and their own email).
    for ref, email, first in zip(seat_refs, ["sam@example.org", "alex@example.org"], ["Sam", "Alex"], strict=True):
        link = next(line for line in page.split('"') if f"field:{REF_FIELD}={ref}" in line)
        appt = book_through(fake_acuity, link.replace("&amp;", "&"), email=email, first=first, last="Friend")
        apply_booking(appointment_to_signal(appt, action="scheduled"))
    for email in ["sam@example.org", "alex@example.org"]:
        reg = Registration.objects.get(attendee__email=email)
        assert reg.status == Status.COMPLETE
        seat_payment = reg.payments.get()
        assert seat_payment.method == Payment.Method.GROUP_SEAT and seat_payment.amount == 0
    item.refresh_from_db()
    assert item.state == "open"  # the payer has not booked yet

    appt = book_through(fake_acuity, query_link(page, payer.reference), email="pat@example.org", first="Pat")
    apply_booking(appointment_to_signal(appt))

    item.refresh_from_db()
    payer.refresh_from_db()
    assert item.state == "resolved" and item.resolution == "seats_assigned"
    assert payer.status == Status.COMPLETE
    assert Registration.objects.filter(status=Status.COMPLETE).count() == 3
    # The group page now shows every seat as booked.
    assert _paid(client, s["id"]).content.decode().count("Booked ✓") == 3


def query_link(page: str, ref: str) -> str:
    return next(part for part in page.split('"') if f"field:{REF_FIELD}={ref}" in part).replace("&amp;", "&")


def test_seat_payment_waits_for_a_clearing_group_payment(client, fake_stripe, fake_acuity, event):
    s = fake_stripe.add_session(email="pat@example.org", amount=24000, quantity=2, payment_status="unpaid")
    page = _paid(client, s["id"]).content.decode()
    assert "confirming your payment" in page
    seat_ref = Payment.objects.get(method="stripe").seat_references.get().reference
    appt = book_through(fake_acuity, query_link(page, seat_ref), email="sam@example.org", first="Sam")
    apply_booking(appointment_to_signal(appt))
    sam = Registration.objects.get(attendee__email="sam@example.org")
    assert sam.payments.get().state == "unpaid" and sam.status == Status.BOOKED_ONLY

    # The bank debit clears (webhook).
    s["payment_status"] = "paid"
    apply_payment(
        session_to_signal(
            s, event_type="checkout.session.async_payment_succeeded", line_items=fake_stripe.line_items[s["id"]]
        )
    )

    sam.refresh_from_db()
    assert sam.payments.get().state == "paid" and sam.status == Status.COMPLETE


def test_webhook_before_the_redirect_leaves_one_payment_and_the_same_state(client, fake_stripe, fake_acuity, event):
    s = fake_stripe.add_session(email="river@example.org")
    apply_payment(session_to_signal(s, line_items=fake_stripe.line_items[s["id"]], raw_ref="evt_1"))
    before = Registration.objects.get()

    resp = _paid(client, s["id"])

    assert resp.status_code == 302
    assert Payment.objects.count() == 1
    after = Registration.objects.get()
    assert (after.pk, after.status) == (before.pk, Status.PAID_ONLY)
    assert query(resp["Location"])[f"field:{REF_FIELD}"] == after.reference
    assert sorted(Payment.objects.get().raw_refs) == ["evt_1", "handoff"]


def test_webhook_after_the_redirect_is_a_no_op(client, fake_stripe, fake_acuity, event):
    s = fake_stripe.add_session(email="river@example.org")
    _paid(client, s["id"])
    audit_rows = AuditLog.objects.count()

    result = apply_payment(session_to_signal(s, line_items=fake_stripe.line_items[s["id"]], raw_ref="evt_2"))

    assert result.noop
    assert Payment.objects.count() == 1
    assert AuditLog.objects.count() == audit_rows
    assert Registration.objects.get().status == Status.PAID_ONLY
    keys = Payment.objects.get().mapping_keys
    assert keys == [["stripe_payment_link", PLINK], ["stripe_price", "price_1SampleSpring"]]


def test_booked_payer_whose_bank_debit_is_clearing_is_told_so(client, fake_stripe, fake_acuity, event):
    appt = fake_acuity.add_appointment(email="river@example.org", appointment_type_id=ATYPE)
    apply_booking(appointment_to_signal(appt))
    s = fake_stripe.add_session(email="river@example.org", payment_status="unpaid")

    body = _paid(client, s["id"]).content.decode()

    assert "confirming your payment" in body and "booking is already in" in body
    assert "schedule.php" not in body


def test_seat_holder_coming_back_from_acuity_is_all_set_and_a_seat_link_works_once(
    client, fake_stripe, fake_acuity, event
):
    s = fake_stripe.add_session(email="pat@example.org", amount=24000, quantity=2)
    page = _paid(client, s["id"]).content.decode()
    seat_ref = Payment.objects.get().seat_references.get().reference
    link = query_link(page, seat_ref)

    sam = book_through(fake_acuity, link, email="sam@example.org", first="Sam")
    resp = client.get("/r/booked/", {"appointment": sam["id"]})
    assert resp.status_code == 200 and b"all set" in resp.content

    # The same seat link forwarded to a third person does not give away a second seat.
    kim = book_through(fake_acuity, link, email="kim@example.org", first="Kim")
    resp = client.get("/r/booked/", {"appointment": kim["id"]})
    # Kim is told the link was already used, with the payment link for her own place (not sent there silently).
    assert resp.status_code == 200 and b"already used" in resp.content
    assert b"https://buy.stripe.com/test_spring?" in resp.content
    assert Registration.objects.get(attendee__email="kim@example.org").status == Status.BOOKED_ONLY
    assert Payment.objects.filter(method=Payment.Method.GROUP_SEAT).count() == 1
