"""The exception queue: each card explains itself, each choice resolves it in place through a
domain function (audited with the operator as actor), the counters update out of band, and a
second click is a friendly note, never a 500."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from registrations.models import AttendeeAlias, AuditLog, EventMapping, Payment, Registration, ReviewItem, Status
from registrations.templatetags.ops_format import card_text
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db


def act(client, item, name, data=None, headers=None):
    return client.post(reverse("ops:queue_action", args=[item.pk, name]), data or {}, headers=headers or {})


def operator_audit(action, operator):
    return AuditLog.objects.filter(action=action, actor_type="operator", actor_user=operator)


def test_the_queue_shows_one_card_per_open_item_with_its_explanation(ops_client, world):
    page = ops_client.get(reverse("ops:queue")).content.decode()
    for item in world.items.values():
        assert f'id="item-{item.pk}"' in page
        assert card_text(item.explanation) in html.unescape(page)  # in the page's money and day formats
    assert 'id="nav-queue-count"' in page
    assert 'id="queue-total">6<' in page


def test_the_queue_filters_by_kind_and_by_event(ops_client, world):
    other = EventFactory(slug="autumn", name="Autumn")
    page = ops_client.get(reverse("ops:queue") + "?kind=dispute").content.decode()
    assert f'id="item-{world.items["dispute"].pk}"' in page
    assert f'id="item-{world.items["group_payment"].pk}"' not in page
    page = ops_client.get(reverse("ops:queue") + f"?event={other.slug}").content.decode()
    assert "Nothing needs you right now" in page
    page = ops_client.get(reverse("ops:queue") + f"?event={world.event.slug}").content.decode()
    assert f'id="item-{world.items["dispute"].pk}"' in page
    assert f'id="item-{world.items["unmatched_event"].pk}"' not in page  # no event yet


def test_an_empty_queue_says_nothing_needs_you(ops_client, db):
    page = ops_client.get(reverse("ops:queue")).content.decode()
    assert "Nothing needs you right now" in page


def test_accepting_a_suggested_match_merges_them_and_learns_the_alias(ops_client, world, operator, htmx_headers):
    item = world.items[ReviewItem.Kind.SUGGESTED_MATCH]
    response = act(ops_client, item, "accept", headers=htmx_headers())
    body = response.content.decode()
    assert response.status_code == 200
    assert "Merged" in body and 'class="card resolved' in body
    assert 'id="nav-queue-count" class="count-badge" hx-swap-oob="true"' in body
    assert 'id="queue-counts" class="queue-counts" hx-swap-oob="true"' in body
    assert 'id="queue-total">5<' in body
    reg = Registration.objects.get(attendee__email="river@example.org", event=world.event)
    assert reg.status == Status.COMPLETE
    assert AttendeeAlias.objects.filter(email="r.stone@work.example", attendee=reg.attendee).exists()
    assert operator_audit("review.resolved.merged", operator).exists()


def test_dismissing_a_suggested_match_keeps_them_apart_for_good(ops_client, world, operator, htmx_headers):
    item = world.items[ReviewItem.Kind.SUGGESTED_MATCH]
    act(ops_client, item, "dismiss", {"note": "two different Rivers"}, htmx_headers())
    item.refresh_from_db()
    assert item.state == ReviewItem.State.DISMISSED
    assert item.resolved_by == operator
    assert Registration.objects.filter(event=world.event, attendee__email="r.stone@work.example").exists()
    # Recomputing (as the next signal would) does not suggest them again.
    from registrations.services import recompute

    recompute(item.registration)
    assert not ReviewItem.objects.filter(kind="suggested_match", state="open").exists()


def test_assigning_group_seats_to_a_booking_and_a_named_attendee(ops_client, world, operator, htmx_headers):
    item = world.items[ReviewItem.Kind.GROUP_PAYMENT]
    form = ops_client.get(
        reverse("ops:queue_card", args=[item.pk]) + "?mode=assign", headers=htmx_headers()
    ).content.decode()
    friend = Registration.objects.get(attendee__email="fran.friend@example.org")
    assert f'value="{friend.pk}"' in form  # the booked-but-unpaid friend is offered
    response = act(
        ops_client,
        item,
        "assign",
        {
            "payer_takes_seat": "on",
            "seat_1_registration": str(friend.pk),
            "seat_2_name": "Nia Named",
            "seat_2_email": "nia.named@example.org",
        },
        htmx_headers(),
    )
    assert "Seats assigned" in response.content.decode()
    friend.refresh_from_db()
    assert friend.status == Status.COMPLETE
    nia = Registration.objects.get(attendee__email="nia.named@example.org", event=world.event)
    assert nia.status == Status.PAID_ONLY
    seats = Payment.objects.filter(method=Payment.Method.GROUP_SEAT).order_by("manual_key")
    assert [s.manual_key for s in seats] == [f"seat:{item.payment_id}:2", f"seat:{item.payment_id}:3"]
    assert all(s.amount == 0 for s in seats)
    assert operator_audit("registration.seat_assigned", operator).count() == 2
    group = Payment.objects.get(pk=item.payment_id)
    assert [s["seat"] for s in group.seat_assignments] == [1, 2, 3]


def test_assigning_more_seats_than_were_paid_for_is_refused_with_a_clear_message(ops_client, world, htmx_headers):
    item = world.items[ReviewItem.Kind.GROUP_PAYMENT]
    data = {"payer_takes_seat": "on"}
    for n in (1, 2, 3):
        data[f"seat_{n}_name"] = f"Extra {n}"
        data[f"seat_{n}_email"] = f"extra{n}@example.org"
    body = act(ops_client, item, "assign", data, htmx_headers()).content.decode()
    assert "Only 3 seats were paid for; you assigned 4." in body
    assert ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.OPEN
    assert not Payment.objects.filter(method=Payment.Method.GROUP_SEAT).exists()


def test_a_seat_row_with_a_name_but_no_email_asks_for_the_email(ops_client, world, htmx_headers):
    item = world.items[ReviewItem.Kind.GROUP_PAYMENT]
    body = act(ops_client, item, "assign", {"seat_1_name": "No Email"}, htmx_headers()).content.decode()
    assert "Add the attendee&#x27;s email address." in body


def test_keeping_a_duplicate_payment_closes_it_with_the_note(ops_client, world, operator, htmx_headers):
    item = world.items[ReviewItem.Kind.DUPLICATE_PAYMENT]
    act(ops_client, item, "keep", {"note": "second seat for her partner"}, htmx_headers())
    item.refresh_from_db()
    assert (item.state, item.resolution, item.resolution_note) == ("resolved", "kept", "second seat for her partner")
    assert operator_audit("review.resolved.kept", operator).exists()


def test_keeping_a_cancelled_payment_as_credit(ops_client, world, operator, htmx_headers):
    item = world.items[ReviewItem.Kind.PAID_CANCELLED]
    body = act(ops_client, item, "credit", {"note": "credit for autumn"}, htmx_headers()).content.decode()
    assert "Kept as credit" in body
    item.refresh_from_db()
    assert item.resolution == "kept_as_credit"
    assert operator_audit("review.resolved.kept_as_credit", operator).exists()


def test_acknowledging_a_dispute_requires_a_note(ops_client, world, operator, htmx_headers):
    item = world.items[ReviewItem.Kind.DISPUTE]
    body = act(ops_client, item, "acknowledge", {"note": "  "}, htmx_headers()).content.decode()
    assert "Write a note" in body
    assert ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.OPEN
    act(ops_client, item, "acknowledge", {"note": "evidence sent in Stripe"}, htmx_headers())
    item.refresh_from_db()
    assert (item.state, item.resolution_note) == ("resolved", "evidence sent in Stripe")
    assert operator_audit("review.resolved.acknowledged", operator).exists()


def test_mapping_an_unknown_link_to_an_event_replays_its_payment(ops_client, world, operator, htmx_headers):
    item = world.items[ReviewItem.Kind.UNMATCHED_EVENT]
    body = act(ops_client, item, "map", {"event": str(world.event.pk)}, htmx_headers()).content.decode()
    assert "1 stored signal replayed" in body
    assert EventMapping.objects.get(value="plink_nobody_mapped").event == world.event
    reg = Registration.objects.get(attendee__email="una.unknown@example.org")
    assert reg.event == world.event and reg.status == Status.PAID_ONLY
    assert ReviewItem.objects.get(pk=item.pk).resolution == "mapped"
    assert operator_audit("mapping.added", operator).exists()


def test_mapping_without_choosing_an_event_explains_what_to_do(ops_client, world, htmx_headers):
    item = world.items[ReviewItem.Kind.UNMATCHED_EVENT]
    body = act(ops_client, item, "map", {"event": ""}, htmx_headers()).content.decode()
    assert "Choose the event this belongs to" in body
    assert ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.OPEN


def test_marking_an_unknown_link_as_not_ours(ops_client, world, htmx_headers):
    item = world.items[ReviewItem.Kind.UNMATCHED_EVENT]
    act(ops_client, item, "ignore", headers=htmx_headers())
    mapping = EventMapping.objects.get(value="plink_nobody_mapped")
    assert mapping.ignored and mapping.event is None
    assert ReviewItem.objects.get(pk=item.pk).resolution == "ignored"
    assert not Registration.objects.filter(attendee__email="una.unknown@example.org").exists()


def test_a_second_click_on_a_resolved_item_is_a_friendly_note(ops_client, world, operator, htmx_headers):
    item = world.items[ReviewItem.Kind.DISPUTE]
    act(ops_client, item, "acknowledge", {"note": "done"}, htmx_headers())
    again = act(ops_client, item, "acknowledge", {"note": "done"}, htmx_headers())
    body = again.content.decode()
    assert again.status_code == 200
    assert "Already resolved (acknowledged) by olive.operator" in body
    assert "Nothing was changed" in body
    assert operator_audit("review.resolved.acknowledged", operator).count() == 1


def test_a_choice_that_does_not_belong_to_the_kind_is_refused(ops_client, world, htmx_headers):
    item = world.items[ReviewItem.Kind.DISPUTE]
    body = act(ops_client, item, "dismiss", headers=htmx_headers()).content.decode()
    assert "not a choice for a dispute item" in body
    assert ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.OPEN


def test_unknown_items_and_actions_are_not_server_errors(ops_client, world, htmx_headers):
    assert act(ops_client, world.items["dispute"], "explode").status_code == 404
    missing = ReviewItem(pk=999999)
    response = act(ops_client, missing, "acknowledge", {"note": "x"}, htmx_headers())
    assert response.status_code == 200 and "no longer exists" in response.content.decode()
    assert ops_client.get(reverse("ops:queue_card", args=[999999])).status_code == 404


def test_without_javascript_a_resolution_redirects_back_with_a_message(ops_client, world):
    item = world.items[ReviewItem.Kind.DISPUTE]
    response = act(ops_client, item, "acknowledge", {"note": "ok", "next": "/ops/queue/?kind=dispute"})
    assert response.status_code == 302 and response["Location"] == "/ops/queue/?kind=dispute"
    page = ops_client.get(response["Location"]).content.decode()
    assert "Dispute acknowledged" in page
    # An outside "next" is ignored.
    item2 = world.items[ReviewItem.Kind.DUPLICATE_PAYMENT]
    response = act(ops_client, item2, "keep", {"next": "https://evil.example/"})
    assert response["Location"] == reverse("ops:queue")


def test_counters_after_a_resolution_follow_the_pages_event_filter(ops_client, world, htmx_headers):
    item = world.items[ReviewItem.Kind.DISPUTE]
    url = f"http://testserver/ops/queue/?event={world.event.slug}"
    body = act(ops_client, item, "acknowledge", {"note": "ok"}, htmx_headers(url)).content.decode()
    # 5 left overall (nav badge), 4 left on this event (the unmatched one has no event).
    assert 'aria-label="5 open">5<' in body
    assert 'id="queue-total">4<' in body


def test_resolving_the_last_item_shows_the_empty_state_out_of_band(ops_client, world, htmx_headers):
    ReviewItem.objects.exclude(pk=world.items["dispute"].pk).update(state="resolved", resolution="test")
    body = act(ops_client, world.items["dispute"], "acknowledge", {"note": "ok"}, htmx_headers()).content.decode()
    assert "Nothing needs you right now" in body
    assert 'class="count-badge is-zero"' in body
