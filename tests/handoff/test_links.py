"""The links that carry an attendee (and our reference) from one provider to the other."""

from integrations.handoff import booking_link, payment_link, plain_booking_link, redirect_urls
from registrations.models import EventMapping
from tests.factories import AttendeeFactory, RegistrationFactory

from .conftest import ATYPE, REF_FIELD, query


def _reg(event, **attendee):
    return RegistrationFactory(event=event, attendee=AttendeeFactory(**attendee))


def test_booking_link_prefills_name_email_phone_type_and_hidden_reference(event):
    reg = _reg(event, email="river+retreat@example.org", name="River Stone", phone="+14155550123")
    link = booking_link(reg)
    assert link.startswith("https://app.acuityscheduling.com/schedule.php?owner=21991&")
    q = query(link)
    assert q["firstName"] == "River"
    assert q["lastName"] == "Stone"
    assert q["email"] == "river+retreat@example.org"  # the "+" survives (encoded as %2B)
    assert "%2B" in link
    assert q["phone"] == "+14155550123"
    assert q["appointmentType"] == str(ATYPE)
    assert q[f"field:{REF_FIELD}"] == reg.reference
    assert f"field:{REF_FIELD}=" in link  # readable key, as in Acuity's docs


def test_booking_link_keeps_an_appointment_type_already_in_the_url(event):
    event.acuity_scheduling_url = "https://app.acuityscheduling.com/schedule.php?owner=1&appointmentType=777"
    event.save()
    q = query(booking_link(_reg(event, name="Sky")))
    assert q["appointmentType"] == "777"
    assert q["firstName"] == "Sky" and "lastName" not in q  # empty values are left out


def test_booking_link_offers_every_mapped_type_when_there_are_several(event):
    EventMapping.objects.create(kind=EventMapping.Kind.ACUITY_APPOINTMENT_TYPE, value="4449999", event=event)
    q = query(booking_link(_reg(event)))
    assert q["appointmentType[]"] == [str(ATYPE), "4449999"]


def test_booking_link_without_reference_field_configured_still_prefills(event):
    event.acuity_reference_field_id = ""
    event.save()
    q = query(booking_link(_reg(event, email="a@example.org")))
    assert q["email"] == "a@example.org"
    assert not any(k.startswith("field:") for k in q)


def test_seat_link_carries_only_the_seat_reference(event):
    reg = _reg(event, email="payer@example.org", name="Pat Payer")
    q = query(booking_link(reg, seat_reference="RABCDEFGHJKLMNPQR"))
    assert q[f"field:{REF_FIELD}"] == "RABCDEFGHJKLMNPQR"
    assert "email" not in q and "firstName" not in q


def test_no_scheduling_url_means_no_booking_link(event):
    event.acuity_scheduling_url = ""
    event.save()
    assert booking_link(_reg(event)) == ""
    assert plain_booking_link(event) == ""


def test_payment_link_prefills_email_and_reference(event):
    reg = _reg(event, email="river@example.org")
    link = payment_link(reg)
    assert link.startswith("https://buy.stripe.com/test_spring?")
    q = query(link)
    assert q == {"prefilled_email": "river@example.org", "client_reference_id": reg.reference}


def test_reference_is_a_valid_stripe_client_reference_id(event):
    # Stripe silently drops anything but [A-Za-z0-9_-]{1,200} (INTEGRATIONS.md trap 22).
    import re

    reg = _reg(event)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,200}", reg.reference)


def test_redirect_urls_are_the_exact_strings_to_paste(event):
    urls = redirect_urls(event)
    assert urls["stripe_after_payment"] == (
        "https://reg.example.org/r/paid/?session_id={CHECKOUT_SESSION_ID}&event=spring-retreat"
    )
    assert urls["acuity_confirmation"] == (
        "https://reg.example.org/r/booked/?appointment=%appointmentId%&event=spring-retreat"
    )
    assert (
        'href="https://reg.example.org/r/booked/?appointment=%appointmentId%&amp;event=spring-retreat"'
        in (urls["acuity_confirmation_html"])
    )
