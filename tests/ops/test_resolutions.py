"""The resolution functions the operator pages call, tested as domain functions: each writes its
audit row with the operator as actor, validates its input, and recomputes the statuses."""

from __future__ import annotations

import pytest

from registrations.audit import Actor
from registrations.models import AuditLog, Payment, Registration, ReviewItem, SeatReference, Status
from registrations.resolutions import (
    ResolutionError,
    assign_group_seats,
    keep_as_credit,
    map_unmatched_event,
    mark_booked_manually,
    mark_paid_manually,
)
from registrations.seats import issue_seat_references
from registrations.services import apply_booking
from registrations.signals import BookingSignal

from .scenario import ATYPE, PRICE, book, pay

pytestmark = pytest.mark.django_db


@pytest.fixture
def actor(operator):
    return Actor.operator(operator)


def group_item(email="gina@example.org", seats=3):
    pay(email, "Gina Group", amount=seats * PRICE, quantity=seats)
    return ReviewItem.objects.get(kind=ReviewItem.Kind.GROUP_PAYMENT, registration__attendee__email=email)


def test_group_seats_count_once_in_the_money_and_make_their_holders_paid(event, actor):
    item = group_item()
    book("fran@example.org", "Fran", "Friend", event=event)
    fran = Registration.objects.get(attendee__email="fran@example.org")
    assign_group_seats(item.pk, [{"registration_id": fran.pk}, {"name": "Nia", "email": "NIA@example.org"}], actor)
    fran.refresh_from_db()
    assert fran.status == Status.COMPLETE
    assert Registration.objects.get(attendee__email="nia@example.org").status == Status.PAID_ONLY
    paid = Payment.objects.filter(event=event, state="paid")
    assert sum(p.amount for p in paid) == 3 * PRICE  # the seats add nothing to gross
    assert AuditLog.objects.filter(action="review.resolved.seats_assigned", actor_user=actor.user).exists()


def test_the_payer_cannot_be_given_a_second_seat(event, actor):
    item = group_item()
    with pytest.raises(ResolutionError, match="is the payer"):
        assign_group_seats(item.pk, [{"registration_id": item.registration_id}], actor)


def test_without_the_payer_every_seat_can_go_to_someone_else(event, actor):
    item = group_item(seats=2)
    people = [{"name": f"P{n}", "email": f"p{n}@example.org"} for n in (1, 2)]
    assign_group_seats(item.pk, people, actor, payer_takes_seat=False)
    keys = sorted(Payment.objects.filter(method="group_seat").values_list("manual_key", flat=True))
    assert keys == [f"seat:{item.payment_id}:1", f"seat:{item.payment_id}:2"]


def test_a_registration_of_another_event_cannot_take_a_seat(event, actor):
    from tests.factories import EventFactory, RegistrationFactory

    item = group_item()
    stranger = RegistrationFactory(event=EventFactory(slug="elsewhere"))
    with pytest.raises(ResolutionError, match="not on Spring retreat"):
        assign_group_seats(item.pk, [{"registration_id": stranger.pk}], actor)


def test_seats_taken_through_their_booking_links_are_not_handed_out_again(event, actor):
    item = group_item(seats=3)
    refs = issue_seat_references(item.payment, actor)
    # Seat 2's link is used by someone who books with it.
    apply_booking(
        BookingSignal(
            status="booked",
            source_id="880001",
            event_keys=(("acuity_appointment_type", ATYPE),),
            email="linked@example.org",
            first_name="Linked",
            starts_at=event.starts_at,
            intake={"Reference": refs[0].reference},
            occurred_at=event.starts_at,
        )
    )
    assert Payment.objects.filter(manual_key=f"seat:{item.payment_id}:2").exists()
    with pytest.raises(ResolutionError, match="already taken by booking links"):
        assign_group_seats(
            item.pk, [{"name": "A", "email": "a@example.org"}, {"name": "B", "email": "b@example.org"}], actor
        )
    assign_group_seats(item.pk, [{"name": "A", "email": "a@example.org"}], actor)
    assert Payment.objects.get(manual_key=f"seat:{item.payment_id}:3").registration.attendee.email == "a@example.org"
    # Seat 3's own link is now marked used, so booking with it later gives no second seat.
    assert SeatReference.objects.get(payment=item.payment, seat=3).registration is not None


def test_marking_paid_by_hand_needs_a_reason_and_a_known_method(event, actor):
    book("bo@example.org", "Bo", event=event)
    reg = Registration.objects.get(attendee__email="bo@example.org")
    with pytest.raises(ResolutionError, match="Say why"):
        mark_paid_manually(reg, 100, "cash", "  ", actor)
    with pytest.raises(ResolutionError, match="Unknown payment method"):
        mark_paid_manually(reg, 100, "stripe", "because", actor)
    mark_paid_manually(reg, 5000, "complimentary", "speaker", actor)
    payment = Payment.objects.get(registration=reg)
    assert payment.amount == 0  # complimentary is always free
    reg.refresh_from_db()
    assert reg.status == Status.COMPLETE and reg.manual_paid_reason == "speaker"
    entry = AuditLog.objects.get(action="registration.marked_paid")
    assert entry.before["status"] == Status.BOOKED_ONLY and entry.actor_user == actor.user


def test_marking_booked_by_hand_twice_with_the_same_key_books_once(event, actor):
    pay("pat@example.org", "Pat")
    reg = Registration.objects.get(attendee__email="pat@example.org")
    mark_booked_manually(reg, "booked by phone", actor, key="k" * 32)
    mark_booked_manually(reg, "booked by phone", actor, key="k" * 32)
    assert reg.bookings.count() == 1
    reg.refresh_from_db()
    assert reg.status == Status.COMPLETE


def test_keeping_as_credit_only_applies_to_paid_but_cancelled_items(event, actor):
    item = group_item()
    with pytest.raises(ResolutionError, match="not paid_cancelled"):
        keep_as_credit(item.pk, actor)


def test_mapping_an_unmatched_item_requires_an_event_or_not_ours(event, actor):
    pay("una@example.org", "Una", plink="plink_unmapped")
    item = ReviewItem.objects.get(kind=ReviewItem.Kind.UNMATCHED_EVENT)
    with pytest.raises(ResolutionError, match="Choose an event"):
        map_unmatched_event(item.pk, actor)
    mapping, replayed = map_unmatched_event(item.pk, actor, event=event)
    assert replayed.done == 1 and mapping.event == event
    with pytest.raises(ResolutionError, match="already resolved"):
        map_unmatched_event(item.pk, actor, event=event)
