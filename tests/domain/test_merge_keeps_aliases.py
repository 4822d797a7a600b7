"""Accepting "same person, different emails?" keeps every address that person was known by:
the addresses learned for the merged-away attendee go to the survivor, so a later signal under
any of them lands on the merged registration instead of starting a new person."""

import pytest

from registrations.audit import Actor
from registrations.identity import find_attendee
from registrations.models import Attendee, AuditLog, EventMapping, Registration, ReviewItem, Status
from registrations.resolutions import accept_suggested_match
from registrations.services import apply_booking, apply_payment
from tests.factories import EventFactory

from .builders import booked, paid

pytestmark = pytest.mark.django_db

HOME, WORK, PHONE = "river@home.example", "river@work.example", "+14155550123"


def reg_of(email, event) -> Registration:
    return Registration.objects.get(attendee__email=email, event=event)


def suggestion() -> ReviewItem:
    return ReviewItem.objects.get(kind=ReviewItem.Kind.SUGGESTED_MATCH, state=ReviewItem.State.OPEN)


def test_a_booking_under_an_address_learned_before_a_merge_lands_on_the_merged_registration(event, admin_user):
    # River books under the home address, then books again from work with the reference from
    # our email: the work address is learned as River's.
    apply_booking(booked(1, HOME, phone=PHONE))
    booker = reg_of(HOME, event)
    apply_booking(booked(1, HOME, status="cancelled", phone=PHONE, hours=1))
    apply_booking(booked(2, WORK, phone=PHONE, hours=2, intake={"Registration reference": booker.reference}))
    assert find_attendee(WORK) == booker.attendee
    # River pays under a third address; the operator accepts the suggestion: one person.
    apply_payment(paid(1, "river.stone@example.org", phone=PHONE, hours=3))
    payer = reg_of("river.stone@example.org", event)
    kept = accept_suggested_match(suggestion().pk, Actor.operator(admin_user))
    assert kept == payer and kept.status == Status.COMPLETE

    # A later booking from the work address is River's, on the merged registration.
    apply_booking(booked(3, WORK, phone=PHONE, hours=4))

    assert Attendee.objects.count() == 1
    assert list(Registration.objects.all()) == [payer]
    assert payer.bookings.filter(acuity_appointment_id="3").exists()
    assert not ReviewItem.objects.filter(kind=ReviewItem.Kind.SUGGESTED_MATCH, state=ReviewItem.State.OPEN).exists()
    # The move is on the record, with the merge as its reason.
    moved = AuditLog.objects.get(action="attendee.alias_learned", after__alias=WORK, actor_user=admin_user)
    assert moved.registration == payer
    assert moved.before["attendee"] == HOME and moved.after["attendee"] == "river.stone@example.org"
    assert "review #" in moved.after["reason"]


def test_when_the_merged_person_stays_for_another_event_all_their_addresses_name_the_survivor(event, admin_user):
    """The merged-away attendee is kept while it has registrations at other events. Its primary
    address already becomes the survivor's; its learned addresses follow it, so no address of
    the one person names the old attendee and another names the survivor."""
    summer = EventFactory(slug="summer", name="Summer Retreat")
    EventMapping.objects.create(kind=EventMapping.Kind.ACUITY_APPOINTMENT_TYPE, value="777", event=summer)
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PAYMENT_LINK, value="plink_summer", event=summer)
    # At the summer retreat River booked from home and paid from work with the reference.
    apply_booking(booked(1, HOME, phone=PHONE, atype="777"))
    summer_reg = reg_of(HOME, summer)
    apply_payment(paid(1, WORK, phone=PHONE, plink="plink_summer", ref=summer_reg.reference))
    assert summer_reg.attendee.aliases.filter(email=WORK).exists()
    # At this event River books from home and pays under a third address; merged by the operator.
    apply_booking(booked(2, HOME, phone=PHONE, hours=2))
    apply_payment(paid(2, "river.stone@example.org", phone=PHONE, hours=3))
    payer = reg_of("river.stone@example.org", event)
    accept_suggested_match(suggestion().pk, Actor.operator(admin_user))

    # Both of the old attendee's addresses now name the survivor, the same way.
    assert find_attendee(HOME) == payer.attendee
    assert find_attendee(WORK) == payer.attendee
    assert summer_reg.attendee.aliases.count() == 0
    # The summer registration goes with the person, unchanged otherwise.
    summer_reg.refresh_from_db()
    assert summer_reg.attendee == payer.attendee and summer_reg.status == Status.COMPLETE

    # A new booking here from the work address lands on the merged registration.
    apply_booking(booked(3, WORK, phone=PHONE, hours=4))
    assert Registration.objects.filter(event=event).count() == 1
    assert payer.bookings.filter(acuity_appointment_id="3").exists()


def test_after_a_merge_the_persons_registration_at_another_event_is_theirs_and_is_not_started_twice(event, admin_user):
    """River paid and booked the summer retreat from home. Here River booked from home and paid
    from work; the operator merges the two (the payer's registration is kept). A later booking at the summer retreat
    from home belongs to River's summer registration: no second one, no "please pay" for it."""
    summer = EventFactory(slug="summer", name="Summer Retreat")
    EventMapping.objects.create(kind=EventMapping.Kind.ACUITY_APPOINTMENT_TYPE, value="777", event=summer)
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PAYMENT_LINK, value="plink_summer", event=summer)
    apply_payment(paid(1, HOME, phone=PHONE, plink="plink_summer"))
    apply_booking(booked(1, HOME, phone=PHONE, atype="777"))
    summer_reg = reg_of(HOME, summer)
    assert summer_reg.status == Status.COMPLETE
    apply_booking(booked(2, HOME, phone=PHONE, hours=2))
    apply_payment(paid(2, WORK, phone=PHONE, hours=3))
    kept = accept_suggested_match(suggestion().pk, Actor.operator(admin_user))
    assert kept == reg_of(WORK, event)  # the home attendee is the one merged away

    summer_reg.refresh_from_db()
    assert summer_reg.attendee == kept.attendee
    assert Attendee.objects.count() == 1
    moved = AuditLog.objects.get(action="registration.attendee_merged", registration=summer_reg)
    assert moved.actor_user == admin_user and moved.before == {"attendee": HOME}

    # River adds a second summer session from home: it joins the summer registration.
    apply_booking(booked(3, HOME, phone=PHONE, atype="777", hours=4))
    assert Registration.objects.filter(event=summer).count() == 1
    assert summer_reg.bookings.filter(acuity_appointment_id="3").exists()
