"""purge_personal_data leaves no copy of a purged attendee's address, name or phone behind in the
places a group payment, a match suggestion or an operator's manual reason keep them."""

import pytest
from django.core.management import call_command

from registrations.models import Booking, Payment, Registration, ReviewItem, Status
from tests.factories import AttendeeFactory, RegistrationFactory
from tests.test_purge import world  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def purge():
    call_command("purge_personal_data", "--event", "spring-retreat", "--yes", stdout=None)


def everything_stored(*objs) -> str:
    out = []
    for obj in objs:
        obj.refresh_from_db()
        out.append(str({f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}))
    return "\n".join(out).lower()


def test_a_group_payment_and_its_seats_no_longer_name_the_payer_or_the_seat_holder(world):  # noqa: F811
    past, river_reg = world["past"], world["river_reg"]
    friend = AttendeeFactory(email="friend@example.org", name="Fennel Brook", phone="+15551230009")
    friend_reg = RegistrationFactory(attendee=friend, event=past, status=Status.COMPLETE)
    group = Payment.objects.create(
        checkout_session_id="cs_group",
        event=past,
        registration=river_reg,
        state=Payment.State.PAID,
        amount=24000,
        currency="usd",
        quantity=2,
        email="river@example.org",
        name="River Stone",
        seat_assignments=[
            {"seat": 1, "registration": river_reg.reference, "email": "river@example.org"},
            {"seat": 2, "registration": friend_reg.reference, "email": "friend@example.org", "by": "booking"},
        ],
    )
    seat = Payment.objects.create(
        manual_key=f"seat:{group.pk}:2",
        event=past,
        registration=friend_reg,
        state=Payment.State.PAID,
        method=Payment.Method.GROUP_SEAT,
        amount=0,
        currency="usd",
        quantity=1,
        email="friend@example.org",
        name="Fennel Brook",
        note=f"seat 2 of 2 of group payment {group} by river@example.org",
    )

    purge()

    stored = everything_stored(group, seat)
    for personal in ("river@example.org", "friend@example.org", "river stone", "fennel brook"):
        assert personal not in stored
    group.refresh_from_db()
    # Which registration holds which seat is not personal and stays.
    assert [(s["seat"], s["registration"]) for s in group.seat_assignments] == [
        (1, river_reg.reference),
        (2, friend_reg.reference),
    ]
    assert group.amount == 24000 and group.quantity == 2


def test_a_match_suggestion_no_longer_keeps_the_phone_number_and_names_it_was_based_on(world):  # noqa: F811
    past, river_reg = world["past"], world["river_reg"]
    other = AttendeeFactory(email="rivers@example.org", name="Rivers Stone", phone="+15551230001")
    other_reg = RegistrationFactory(attendee=other, event=past, status=Status.BOOKED_ONLY)
    item = ReviewItem.objects.create(
        kind=ReviewItem.Kind.SUGGESTED_MATCH,
        key=f"match:{river_reg.pk}:{other_reg.pk}",
        event=past,
        registration=river_reg,
        counterpart=other_reg,
        explanation="river@example.org paid and rivers@example.org booked.",
        data={
            "reasons": ["the same phone number (+15551230001)", "very similar names (“River Stone” and “Rivers Stone”)"]
        },
    )

    purge()

    stored = everything_stored(item)
    for personal in ("+15551230001", "river stone", "rivers stone", "river@example.org", "rivers@example.org"):
        assert personal not in stored


def test_a_manual_reason_typed_by_an_operator_no_longer_names_the_attendee(world):  # noqa: F811
    reg = world["river_reg"]
    Registration.objects.filter(pk=reg.pk).update(
        manual_paid_reason="River Stone paid cash at the door (river@example.org)",
        manual_booked_reason="Booked by phone, +15551230001",
    )
    # Marking paid / booked by hand keeps the reason on the payment and the booking too.
    paid = Payment.objects.create(
        manual_key="manual-paid:river",
        event=world["past"],
        registration=reg,
        state=Payment.State.PAID,
        method=Payment.Method.CASH,
        amount=12000,
        currency="usd",
        note="River Stone paid cash at the door (river@example.org)",
    )
    booked = Booking.objects.create(
        manual_key="manual-booked:river",
        event=world["past"],
        registration=reg,
        starts_at=world["past"].starts_at,
        note="Booked by phone, +15551230001",
    )

    purge()

    stored = everything_stored(reg, paid, booked)
    for personal in ("river stone", "river@example.org", "+15551230001"):
        assert personal not in stored
    reg.refresh_from_db()
    assert reg.manual_paid_reason.startswith("[removed] paid cash at the door")
