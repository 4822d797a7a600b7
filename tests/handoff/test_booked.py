"""/r/booked/: after booking, the attendee lands on the Payment Link with email and reference."""

from integrations.parsing import session_to_signal
from registrations.audit import Actor
from registrations.clearing import remind_to_pay
from registrations.models import Payment, Registration, ReviewItem, Source, Status
from registrations.services import apply_payment

from .conftest import ATYPE, REF_FIELD, book_through, query


def _booked(client, appointment_id, **extra):
    return client.get("/r/booked/", {"appointment": appointment_id, **extra})


def test_booking_redirects_to_payment_link_with_email_and_reference(client, fake_stripe, fake_acuity, event):
    appt = fake_acuity.add_appointment(email="River.Stone@Example.org", appointment_type_id=ATYPE)

    resp = _booked(client, appt["id"], event="spring-retreat")

    assert resp.status_code == 302
    reg = Registration.objects.get(event=event)
    assert resp["Location"] == (
        f"https://buy.stripe.com/test_spring?prefilled_email=river.stone%40example.org&client_reference_id={reg.reference}"
    )
    assert reg.status == Status.BOOKED_ONLY
    assert reg.bookings.get().source == Source.HANDOFF


def test_the_id_param_is_accepted_too(client, fake_stripe, fake_acuity, event):
    appt = fake_acuity.add_appointment(email="river@example.org", appointment_type_id=ATYPE)
    resp = client.get("/r/booked/", {"id": appt["id"]})
    assert resp.status_code == 302 and resp["Location"].startswith("https://buy.stripe.com/test_spring?")


def test_already_paid_booker_sees_all_set(client, fake_stripe, fake_acuity, event):
    s = fake_stripe.add_session(email="river@example.org")
    apply_payment(session_to_signal(s, line_items=fake_stripe.line_items[s["id"]], raw_ref="evt_1"))
    appt = fake_acuity.add_appointment(email="river@example.org", appointment_type_id=ATYPE)

    resp = _booked(client, appt["id"])

    assert resp.status_code == 200 and b"all set" in resp.content
    assert Registration.objects.get().status == Status.COMPLETE


def test_reference_in_the_intake_field_decides_the_registration(client, fake_stripe, fake_acuity, event):
    """Paid as one address, then booked through our prefilled link typing another address."""
    s = fake_stripe.add_session(email="river@work.example")
    link = client.get("/r/paid/", {"session_id": s["id"]})["Location"]
    appt = book_through(fake_acuity, link, email="river@home.example")

    resp = _booked(client, appt["id"])

    assert resp.status_code == 200 and b"all set" in resp.content
    reg = Registration.objects.get()
    assert reg.status == Status.COMPLETE
    assert reg.bookings.get().intake_reference == reg.reference
    assert reg.attendee.aliases.filter(email="river@home.example").exists()
    assert not ReviewItem.objects.exists()


def test_booker_with_a_bank_debit_clearing_is_not_asked_to_pay_again(client, fake_stripe, fake_acuity, event):
    s = fake_stripe.add_session(email="river@example.org", payment_status="unpaid")
    apply_payment(session_to_signal(s, line_items=fake_stripe.line_items[s["id"]], raw_ref="evt_1"))
    appt = fake_acuity.add_appointment(email="river@example.org", appointment_type_id=ATYPE)

    resp = _booked(client, appt["id"])

    assert resp.status_code == 200
    assert b"confirming your payment" in resp.content
    assert b"buy.stripe.com" not in resp.content


def test_booker_whose_debit_the_operator_gave_up_on_is_sent_to_pay_as_the_reminders_ask(
    client, fake_stripe, fake_acuity, event
):
    """An operator chose "remind them to pay" on the debit's card (it is not coming): the payment
    reminders now ask for the payment, so the page after booking must not say it is being confirmed."""
    s = fake_stripe.add_session(email="river@example.org", payment_status="unpaid")
    apply_payment(session_to_signal(s, line_items=fake_stripe.line_items[s["id"]], raw_ref="evt_1"))
    debit = Payment.objects.get()
    card = ReviewItem.objects.create(
        kind=ReviewItem.Kind.PAYMENT_NOT_CLEARED,
        key=f"not_cleared:{debit.pk}:1",
        registration=debit.registration,
        payment=debit,
        explanation="not cleared",
    )
    remind_to_pay(card.pk, Actor.system("test"))
    appt = fake_acuity.add_appointment(email="river@example.org", appointment_type_id=ATYPE)

    resp = _booked(client, appt["id"])

    assert resp.status_code == 302 and resp["Location"].startswith("https://buy.stripe.com/")


def test_donation_event_booking_is_complete_with_an_optional_donation_link(
    client, fake_stripe, fake_acuity, donation_event
):
    appt = fake_acuity.add_appointment(email="river@example.org", appointment_type_id=4440002)

    resp = _booked(client, appt["id"])

    assert resp.status_code == 200
    body = resp.content.decode()
    assert "all set" in body and "Give a donation" in body
    reg = Registration.objects.get()
    donate = "https://donate.stripe.com/test_forest?prefilled_email=river%40example.org"
    assert f"{donate}&amp;client_reference_id={reg.reference}" in body
    assert reg.status == Status.COMPLETE


def test_donation_already_given_shows_no_donation_button(client, fake_stripe, fake_acuity, donation_event):
    s = fake_stripe.add_session(email="river@example.org", payment_link="plink_forest", amount=5000)
    apply_payment(session_to_signal(s, line_items=fake_stripe.line_items[s["id"]], raw_ref="evt_1"))
    appt = fake_acuity.add_appointment(email="river@example.org", appointment_type_id=4440002)

    body = _booked(client, appt["id"]).content.decode()

    assert "all set" in body and "Give a donation" not in body


def test_payment_through_the_redirect_with_another_email_completes_one_registration(
    client, fake_stripe, fake_acuity, event
):
    """The reverse direction end to end: book → pay link → pay as someone@else → one COMPLETE."""
    appt = fake_acuity.add_appointment(email="river@home.example", appointment_type_id=ATYPE)
    pay_link = _booked(client, appt["id"])["Location"]
    ref = query(pay_link)["client_reference_id"]
    # Stripe copies client_reference_id from the link into the session; the payer typed another email.
    s = fake_stripe.add_session(email="river@work.example", client_reference_id=ref)

    resp = client.get("/r/paid/", {"session_id": s["id"]})

    assert resp.status_code == 200 and b"all set" in resp.content
    reg = Registration.objects.get()
    assert reg.reference == ref and reg.status == Status.COMPLETE
    assert reg.attendee.email == "river@home.example"
    assert reg.attendee.aliases.filter(email="river@work.example").exists()
    assert Payment.objects.get().client_reference_id == ref
    assert not ReviewItem.objects.exists()
    assert f"field:{REF_FIELD}" not in resp.content.decode()


def test_walking_appointment_ids_from_one_address_stops_revealing_emails(
    client, fake_stripe, fake_acuity, event, settings
):
    """Acuity's ids are sequential. Past the hourly allowance per client address, /r/booked/ looks
    nothing up and offers the plain payment link: a real booker still gets on, a walker of ids
    learns no addresses (and spends none of our Acuity quota)."""
    settings.HANDOFF_BOOKED_PER_IP_PER_HOUR = 2
    appts = [fake_acuity.add_appointment(email=f"booker{n}@example.org", appointment_type_id=ATYPE) for n in range(3)]
    assert _booked(client, appts[0]["id"], event="spring-retreat").status_code == 302
    assert _booked(client, appts[1]["id"], event="spring-retreat").status_code == 302
    asked = fake_acuity.count("GET", r"/appointments/")

    third = _booked(client, appts[2]["id"], event="spring-retreat")

    assert third.status_code == 200 and "Location" not in third
    page = third.content.decode()
    assert "booker2@example.org" not in page and "prefilled_email" not in page
    assert 'href="https://buy.stripe.com/test_spring"' in page  # the plain link: the booker goes on
    assert fake_acuity.count("GET", r"/appointments/") == asked
    other = client.get("/r/booked/", {"appointment": appts[2]["id"]}, REMOTE_ADDR="203.0.113.9")
    assert other.status_code == 302  # another address has its own allowance
