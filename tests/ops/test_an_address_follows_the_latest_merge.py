"""An address that an earlier merge gave to one attendee follows the person through a later merge:
River's home address was merged into River's work attendee, and later River's home registration
at the summer retreat was merged into a third one (the operator's latest word on who River is).
River's next payment or booking from home lands on that registration, where the operator put
River's home booking, not on the attendee of the first merge."""

from __future__ import annotations

import pytest
from django.urls import reverse

from registrations.identity import find_attendee
from registrations.models import AuditLog, EventMapping, Registration, ReviewItem
from registrations.services import apply_booking, apply_payment
from tests.domain.builders import booked, paid
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db

HOME, WORK, STONE, PHONE = "river@home.example", "river@work.example", "river.stone@example.org", "+14155550123"


def accept(client, item):
    return client.post(reverse("ops:queue_action", args=[item.pk, "accept"]))


def suggestion(event) -> ReviewItem:
    return ReviewItem.objects.get(kind=ReviewItem.Kind.SUGGESTED_MATCH, state=ReviewItem.State.OPEN, event=event)


def test_an_address_merged_twice_leads_to_where_the_latest_merge_put_that_person(ops_client, operator):
    spring = EventFactory(slug="spring", name="Spring Retreat", price=12000)
    summer = EventFactory(slug="summer", name="Summer Retreat", price=12000)
    for event, plink, atype in ((spring, "plink_spring", "111"), (summer, "plink_summer", "222")):
        EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PAYMENT_LINK, value=plink, event=event)
        EventMapping.objects.create(kind=EventMapping.Kind.ACUITY_APPOINTMENT_TYPE, value=atype, event=event)
    # Summer: paid and booked from work; booked from home; paid under a third address.
    apply_payment(paid(1, WORK, phone=PHONE, plink="plink_summer"))
    apply_booking(booked(1, WORK, phone=PHONE, atype="222"))
    apply_booking(booked(2, HOME, phone=PHONE, atype="222", hours=24 * 20))
    apply_payment(paid(2, STONE, phone=PHONE, plink="plink_summer", hours=24 * 20 + 1))
    # Spring: booked from home, paid from work. The operator accepts: one person (work kept).
    apply_booking(booked(3, HOME, phone=PHONE, atype="111", hours=24 * 30))
    apply_payment(paid(3, WORK, phone=PHONE, plink="plink_spring", hours=24 * 30 + 1))
    accept(ops_client, suggestion(spring))
    work = Registration.objects.get(event=spring).attendee
    assert work.email == WORK and find_attendee(HOME) == work

    # Summer: the operator accepts that home's booking and the third address's payment are one.
    accept(ops_client, suggestion(summer))
    kept = Registration.objects.get(event=summer, attendee__email=STONE)
    assert kept.bookings.filter(acuity_appointment_id="2").exists()

    # River's home address now leads to that registration: a second summer session booked from
    # home joins it (and does not land on the work registration).
    assert find_attendee(HOME) == kept.attendee
    apply_booking(booked(4, HOME, phone=PHONE, atype="222", hours=24 * 40))
    assert kept.bookings.filter(acuity_appointment_id="4").exists()
    moved = AuditLog.objects.get(action="attendee.alias_learned", after__alias=HOME, after__attendee=STONE)
    assert moved.before["attendee"] == WORK and moved.actor_user == operator
