"""An operator merges two attendees who are one person, and both of them are also registered at
another event. That other event now has two registrations of one person: the operator is told so
with a card of its own (money is never folded together behind their back), a stop said by either
address holds for both, and accepting that card leaves one person with one registration there."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from notifications.optout import opt_out
from registrations.models import Attendee, EventMapping, Registration, ReviewItem, Status
from registrations.services import apply_booking, apply_payment
from tests.domain.builders import booked, paid
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db

HOME, WORK, PHONE = "river@home.example", "river@work.example", "+14155550123"


def act(client, item, name, data=None):
    return client.post(reverse("ops:queue_action", args=[item.pk, name]), data or {})


def open_cards(kind=None):
    items = ReviewItem.objects.filter(state=ReviewItem.State.OPEN)
    return items.filter(kind=kind) if kind else items


@pytest.fixture
def two_events(db):
    spring = EventFactory(slug="spring", name="Spring Retreat", price=12000)
    summer = EventFactory(slug="summer", name="Summer Retreat", price=12000)
    for event, plink, atype in ((spring, "plink_spring", "111"), (summer, "plink_summer", "222")):
        EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PAYMENT_LINK, value=plink, event=event)
        EventMapping.objects.create(kind=EventMapping.Kind.ACUITY_APPOINTMENT_TYPE, value=atype, event=event)
    return spring, summer


def test_merging_a_person_registered_twice_at_another_event_asks_the_operator_to_merge_that_one_too(
    ops_client, two_events
):
    spring, summer = two_events
    # River signed up for the summer retreat twice, once from home and once from work (paid
    # and booked both times, weeks apart: no duplicate-payment card, no suggestion).
    apply_payment(paid(1, HOME, phone=PHONE, plink="plink_summer"))
    apply_booking(booked(1, HOME, phone=PHONE, atype="222"))
    apply_payment(paid(2, WORK, phone=PHONE, plink="plink_summer", hours=24 * 20))
    apply_booking(booked(2, WORK, phone=PHONE, atype="222", hours=24 * 20))
    summer_home = Registration.objects.get(attendee__email=HOME, event=summer)
    summer_work = Registration.objects.get(attendee__email=WORK, event=summer)
    assert summer_home.status == summer_work.status == Status.COMPLETE
    # River said stop to email reminders from home, and to texts from work.
    opt_out(summer_home.attendee_id, "email", via="unsubscribe-link")
    opt_out(summer_work.attendee_id, "sms", via="twilio-stop")
    # At the spring retreat River booked from home and paid from work: the queue suggests a match.
    apply_booking(booked(3, HOME, phone=PHONE, atype="111", hours=24 * 30))
    apply_payment(paid(3, WORK, phone=PHONE, plink="plink_spring", hours=24 * 30 + 1))
    (suggestion,) = open_cards(ReviewItem.Kind.SUGGESTED_MATCH)

    act(ops_client, suggestion, "accept")

    # Spring: one registration, paid and booked.
    spring_reg = Registration.objects.get(event=spring)
    assert spring_reg.status == Status.COMPLETE
    survivor = spring_reg.attendee
    assert survivor.email == WORK
    # Summer: both registrations are still there (nobody's money was folded together)...
    assert set(Registration.objects.filter(event=summer)) == {summer_home, summer_work}
    # ... and the queue says River has two registrations at the summer retreat to merge too.
    (card,) = open_cards().filter(event=summer)
    page = html.unescape(ops_client.get(reverse("ops:queue")).content.decode())
    assert f'id="item-{card.pk}"' in page
    assert card.explanation in page
    assert "Summer Retreat" in card.explanation and HOME in card.explanation and WORK in card.explanation
    assert {card.registration_id, card.counterpart_id} == {summer_home.pk, summer_work.pk}
    # Every stop River said holds for both of River's attendees while both exist.
    for attendee in Attendee.objects.all():
        assert attendee.email_opt_out and attendee.sms_opt_out, attendee
    # The card does not close by itself when the registrations are recomputed.
    from registrations.services import recompute

    recompute(Registration.objects.get(pk=summer_home.pk))
    recompute(Registration.objects.get(pk=summer_work.pk))
    card.refresh_from_db()
    assert card.state == ReviewItem.State.OPEN

    # Accepting it leaves one person with one summer registration holding both payments.
    response = act(ops_client, card, "accept")
    assert response.status_code in (200, 302)
    card.refresh_from_db()
    assert card.state == ReviewItem.State.RESOLVED
    (summer_reg,) = Registration.objects.filter(event=summer)
    assert summer_reg.attendee == survivor
    assert summer_reg.payments.count() == 2
    assert list(Attendee.objects.all()) == [survivor]


def test_the_card_follows_a_registration_the_operator_merges_into_a_third_one(ops_client, two_events):
    """River (home) was merged into River (work); both were at the summer retreat, so a card asks
    to merge those two. Before that, the operator merges River's home summer booking with a
    payment under a third address: the card now names that registration, still River's second."""
    spring, summer = two_events
    stone = "river.stone@example.org"
    apply_payment(paid(1, WORK, phone=PHONE, plink="plink_summer"))
    apply_booking(booked(1, WORK, phone=PHONE, atype="222"))
    apply_booking(booked(2, HOME, phone=PHONE, atype="222", hours=24 * 20))
    apply_payment(paid(2, stone, phone=PHONE, plink="plink_summer", hours=24 * 20 + 1))
    apply_booking(booked(3, HOME, phone=PHONE, atype="111", hours=24 * 30))
    apply_payment(paid(3, WORK, phone=PHONE, plink="plink_spring", hours=24 * 30 + 1))
    act(ops_client, ReviewItem.objects.get(kind=ReviewItem.Kind.SUGGESTED_MATCH, event=spring), "accept")
    (card,) = open_cards(ReviewItem.Kind.SAME_PERSON_TWICE)
    summer_work = Registration.objects.get(event=summer, attendee__email=WORK)

    act(ops_client, ReviewItem.objects.get(kind=ReviewItem.Kind.SUGGESTED_MATCH, event=summer), "accept")

    summer_stone = Registration.objects.get(event=summer, attendee__email=stone)
    assert set(Registration.objects.filter(event=summer)) == {summer_work, summer_stone}
    (card,) = open_cards(ReviewItem.Kind.SAME_PERSON_TWICE)
    assert {card.registration, card.counterpart} == {summer_work, summer_stone}
    assert summer_stone.reference in card.explanation and summer_work.reference in card.explanation
    page = ops_client.get(reverse("ops:queue")).content.decode()
    assert f'id="item-{card.pk}"' in page

    # Merging them there leaves River one summer registration and closes the card.
    act(ops_client, card, "accept")
    card.refresh_from_db()
    assert card.state == ReviewItem.State.RESOLVED
    assert Registration.objects.filter(event=summer).count() == 1


def test_the_card_closes_when_the_operator_merges_the_two_another_way(ops_client, two_events):
    spring, summer = two_events
    apply_payment(paid(1, HOME, phone=PHONE, plink="plink_summer"))
    apply_booking(booked(1, WORK, phone=PHONE, atype="222"))
    apply_booking(booked(3, HOME, phone=PHONE, atype="111", hours=24 * 30))
    apply_payment(paid(3, WORK, phone=PHONE, plink="plink_spring", hours=24 * 30 + 1))
    # Summer: paid from home, booked from work (a suggestion there too); spring is accepted first.
    act(ops_client, ReviewItem.objects.get(kind=ReviewItem.Kind.SUGGESTED_MATCH, event=spring), "accept")
    (card,) = open_cards(ReviewItem.Kind.SAME_PERSON_TWICE)

    act(ops_client, ReviewItem.objects.get(kind=ReviewItem.Kind.SUGGESTED_MATCH, event=summer), "accept")

    assert Registration.objects.filter(event=summer).count() == 1
    card.refresh_from_db()
    assert card.state == ReviewItem.State.RESOLVED
    assert not open_cards().exists()


def test_a_stop_said_later_from_the_surviving_address_holds_for_the_merged_attendee_still_registered(
    ops_client, client, two_events
):
    """After the merge the merged-away attendee still holds its summer registration (until the
    operator merges that too): its reminders go to the home address. River then unsubscribes from
    a reminder sent to the work address: no more reminder emails to either."""
    from notifications.tokens import unsubscribe_token

    spring, summer = two_events
    apply_payment(paid(1, HOME, phone=PHONE, plink="plink_summer"))
    apply_booking(booked(1, HOME, phone=PHONE, atype="222"))
    apply_payment(paid(2, WORK, phone=PHONE, plink="plink_summer", hours=24 * 20))
    apply_booking(booked(2, WORK, phone=PHONE, atype="222", hours=24 * 20))
    apply_booking(booked(3, HOME, phone=PHONE, atype="111", hours=24 * 30))
    apply_payment(paid(3, WORK, phone=PHONE, plink="plink_spring", hours=24 * 30 + 1))
    act(ops_client, ReviewItem.objects.get(kind=ReviewItem.Kind.SUGGESTED_MATCH, event=spring), "accept")
    work, home = Attendee.objects.get(email=WORK), Attendee.objects.get(email=HOME)

    response = client.post(f"/n/unsubscribe/{unsubscribe_token(work.pk)}/")

    assert response.status_code == 200
    work.refresh_from_db()
    home.refresh_from_db()
    assert work.email_opt_out and home.email_opt_out


def test_a_card_that_followed_a_merge_is_keyed_by_the_pair_it_now_names(ops_client, two_events):
    """A later merge that finds the same two registrations must find this card (its key names the
    pair), not open a second one next to it."""
    spring, summer = two_events
    stone = "river.stone@example.org"
    apply_payment(paid(1, WORK, phone=PHONE, plink="plink_summer"))
    apply_booking(booked(1, WORK, phone=PHONE, atype="222"))
    apply_booking(booked(2, HOME, phone=PHONE, atype="222", hours=24 * 20))
    apply_payment(paid(2, stone, phone=PHONE, plink="plink_summer", hours=24 * 20 + 1))
    apply_booking(booked(3, HOME, phone=PHONE, atype="111", hours=24 * 30))
    apply_payment(paid(3, WORK, phone=PHONE, plink="plink_spring", hours=24 * 30 + 1))
    act(ops_client, ReviewItem.objects.get(kind=ReviewItem.Kind.SUGGESTED_MATCH, event=spring), "accept")

    act(ops_client, ReviewItem.objects.get(kind=ReviewItem.Kind.SUGGESTED_MATCH, event=summer), "accept")

    (card,) = open_cards(ReviewItem.Kind.SAME_PERSON_TWICE)
    low, high = sorted([card.registration_id, card.counterpart_id])
    assert card.key == f"same_person:{low}:{high}"
