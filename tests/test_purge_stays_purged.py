"""What a purge removed stays removed: a later observation of the same payment or appointment (a
provider's redelivery, ``replay_webhooks``, a reconciliation or ``backfill`` over the old window)
still applies its facts (state, cancellation) but never brings the person's details back."""

import pytest

from integrations.reconcile import booking_needs_apply, payment_needs_apply
from registrations.models import Attendee, Booking, Payment, Registration, Status
from registrations.services import apply_booking, apply_payment
from tests.domain.builders import booked, paid
from tests.test_purge import purge, world  # noqa: F401  (world is a fixture)

pytestmark = pytest.mark.django_db


def river_payment_again():
    return paid("river", "river@example.org", name="River Stone", phone="+15551230001")


def river_appointment_again(status="booked"):
    return booked(
        9001,
        "river@example.org, river.stone@work.example",
        status=status,
        first="River",
        last="Stone",
        phone="+15551230001",
        intake={"Dietary needs": "vegan"},
        hours=0,
    )


def test_a_redelivered_payment_of_a_purged_attendee_does_not_bring_their_details_back(world):  # noqa: F811
    purge("--event", "spring-retreat", "--yes")
    apply_payment(river_payment_again())

    pay = Payment.objects.get(pk=world["river_pay"].pk)
    assert (pay.email, pay.name, pay.phone) == ("", "", "")
    assert pay.state == "paid" and pay.registration_id == world["river_reg"].pk
    assert not Attendee.objects.filter(email="river@example.org").exists()


def test_a_newer_observation_of_a_purged_booking_still_cancels_it_but_keeps_the_answers_removed(world):  # noqa: F811
    purge("--event", "spring-retreat", "--yes")
    apply_booking(river_appointment_again(status="cancelled"))

    booking = Booking.objects.get(pk=world["river_booking"].pk)
    assert booking.cancelled
    assert (booking.email, booking.first_name, booking.last_name, booking.phone) == ("", "", "", "")
    assert booking.other_emails == [] and booking.intake == {}
    assert Registration.objects.get(pk=world["river_reg"].pk).status != Status.COMPLETE


def test_reconciliation_counts_a_purged_record_as_known_instead_of_filling_it_in(world):  # noqa: F811
    apply_payment(river_payment_again())  # the stored rows know everything these observations say
    apply_booking(river_appointment_again())
    purge("--event", "spring-retreat", "--yes")
    pay = Payment.objects.get(pk=world["river_pay"].pk)
    booking = Booking.objects.get(pk=world["river_booking"].pk)
    assert not payment_needs_apply(pay, river_payment_again())
    assert not booking_needs_apply(booking, river_appointment_again())

    moved = booked(9001, "river@example.org", first="River", phone="+15551230001", start_day=12)
    assert booking_needs_apply(booking, moved)  # a real change still counts…
    apply_booking(moved)
    booking.refresh_from_db()
    assert booking.starts_at == moved.starts_at and (booking.email, booking.first_name, booking.phone) == ("", "", "")


def test_a_purged_row_folded_into_another_row_of_the_same_payment_takes_its_details_with_it():
    from django.utils import timezone

    from registrations.payments import _merge_payment_fields

    keep = Payment(payment_intent_id="pi_x", state="paid", email="river@example.org", name="River Stone")
    purged = Payment(checkout_session_id="cs_x", state="paid", personal_data_removed_at=timezone.now())
    _merge_payment_fields(keep, purged)
    assert keep.personal_data_removed_at == purged.personal_data_removed_at
    assert (keep.email, keep.name, keep.phone, keep.checkout_session_id) == ("", "", "", "cs_x")
