"""Matching by reference (DESIGN.md "Matching" 2a), checked against what the handoff needs:
a valid reference decides the registration before any email rule, the other email becomes an
audited alias, and no review item is raised."""

from integrations.parsing import appointment_to_signal, session_to_signal
from registrations.models import AttendeeAlias, AuditLog, Booking, Registration, ReviewItem, Status
from registrations.services import apply_booking, apply_payment, is_reference
from tests.factories import AttendeeFactory, EventFactory, RegistrationFactory

from .conftest import ATYPE, REF_FIELD, book_through


def test_is_reference_rejects_anything_but_the_exact_shape():
    good = "RABCDEFGHJKLMNPQR"
    assert is_reference(good)
    for bad in [good + "\n", good + " ", " " + good, good.lower(), good[:-1], "RABCDEFGHJKLMNPQ1", "", None, 17]:
        assert not is_reference(bad), repr(bad)


def test_booking_through_the_link_with_another_email_via_webhook_completes_one_registration(
    client, fake_stripe, fake_acuity, event
):
    s = fake_stripe.add_session(email="river@work.example", name="River Stone")
    link = client.get("/r/paid/", {"session_id": s["id"]})["Location"]
    appt = book_through(fake_acuity, link, email="RIVER@home.example, river.s@other.example")

    apply_booking(appointment_to_signal(appt, action="scheduled", raw_ref="acuity:1"))

    reg = Registration.objects.get()
    assert reg.status == Status.COMPLETE
    assert Booking.objects.get().registration == reg
    assert list(AttendeeAlias.objects.values_list("email", flat=True)) == ["river@home.example"]
    alias_audit = AuditLog.objects.get(action="attendee.alias_learned")
    assert alias_audit.after["alias"] == "river@home.example" and "reference" in alias_audit.after["reason"]
    matched = AuditLog.objects.get(action="booking.matched")
    assert matched.after["by"] == "reference"
    assert not ReviewItem.objects.exists()
    # Later signals from the alias find the same person.
    s2 = fake_stripe.add_session(email="river@home.example", payment_link="plink_other")
    assert apply_payment(session_to_signal(s2)).registration is None  # unmapped link: kept, no registration
    assert Registration.objects.count() == 1


def test_booking_webhook_before_and_after_the_booked_redirect_gives_one_booking(
    client, fake_stripe, fake_acuity, event
):
    appt = fake_acuity.add_appointment(email="river@example.org", appointment_type_id=ATYPE)
    apply_booking(appointment_to_signal(appt, action="scheduled", raw_ref="acuity:a"))
    first = client.get("/r/booked/", {"appointment": appt["id"]})
    apply_booking(appointment_to_signal(appt, action="scheduled", raw_ref="acuity:b"))

    assert first.status_code == 302
    assert Booking.objects.count() == 1 and Registration.objects.count() == 1
    assert Registration.objects.get().status == Status.BOOKED_ONLY


def test_reference_of_another_event_does_not_decide(client, fake_stripe, fake_acuity, event):
    other = RegistrationFactory(event=EventFactory(), attendee=AttendeeFactory(email="someone@example.org"))
    appt = fake_acuity.add_appointment(
        email="river@example.org",
        appointment_type_id=ATYPE,
        intake={REF_FIELD: ("Registration reference", other.reference)},
    )

    reg = apply_booking(appointment_to_signal(appt)).registration

    assert reg != other and reg.attendee.email == "river@example.org"
    assert not AttendeeAlias.objects.exists()


def test_a_malformed_reference_falls_back_to_email(client, fake_stripe, fake_acuity, event):
    s = fake_stripe.add_session(email="river@example.org", client_reference_id="not-a-reference")
    reg = apply_payment(session_to_signal(s)).registration
    assert reg.attendee.email == "river@example.org"
    assert AuditLog.objects.get(action="payment.matched").after["by"] == "email"


def test_reference_match_does_not_steal_an_address_that_belongs_to_someone_else(
    client, fake_stripe, fake_acuity, event
):
    river = RegistrationFactory(event=event, attendee=AttendeeFactory(email="river@example.org"))
    AttendeeFactory(email="sky@example.org")
    s = fake_stripe.add_session(email="sky@example.org", client_reference_id=river.reference)

    reg = apply_payment(session_to_signal(s)).registration

    assert reg == river
    assert not AttendeeAlias.objects.exists()
    # Sky's own booking still lands on Sky.
    appt = fake_acuity.add_appointment(email="sky@example.org", appointment_type_id=ATYPE)
    assert apply_booking(appointment_to_signal(appt)).registration.attendee.email == "sky@example.org"
