"""What a signed-in co-host sees: events, attendees, what is missing, money only when allowed,
CSV, the calendar feed; and that page cost does not grow with the number of registrations."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from registrations.audit import SYSTEM
from registrations.cohost.accounts import regenerate_calendar_token
from registrations.models import CoHostGrant, Registration
from tests.factories import EventFactory

from .conftest import AMOUNT, AMOUNT_TEXT, book, map_event, pay, sign_in


def allow_money(side, allowed=True):
    CoHostGrant.objects.filter(cohost=side.cohost, event=side.event).update(can_see_money=allowed)


def event_url(side, **query):
    url = reverse("cohost:event", args=[side.event.slug])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def export_rows(client, side, **query):
    url = reverse("cohost:export", args=[side.event.slug])
    response = client.get(url, query)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def feed(client, side):
    response = client.get(reverse("cohost:calendar", args=[side.cohost.calendar_token]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    return response.content.decode()


@pytest.fixture
def alice(client, world):
    sign_in(client, world.alice.cohost)
    return world.alice


def test_index_lists_only_my_events_with_counts(client, world, alice):
    body = client.get(reverse("cohost:index")).content.decode()
    assert "Spring retreat" in body and "Autumn retreat" not in body
    assert "3 registered" in body and "1 complete" in body and "2 incomplete" in body
    assert alice.cohost.calendar_token in body  # the feed URL to subscribe to


def test_index_with_no_events_explains_why(client, world):
    CoHostGrant.objects.filter(cohost=world.alice.cohost).delete()
    sign_in(client, world.alice.cohost)
    assert b"No events are linked to your account yet" in client.get(reverse("cohost:index")).content


def test_event_page_lists_attendees_with_contact_status_and_intake(client, alice):
    body = client.get(event_url(alice)).content.decode()
    for email in alice.emails:
        assert email in body
    assert "+15035550100" in body
    assert "Paid, not booked" in body and "Booked, not paid" in body and "Complete" in body
    assert "spring vegan" in body  # intake answer
    # Booking time in the event's time zone (America/Los_Angeles), not UTC.
    local = timezone.localtime(alice.event.starts_at, __import__("zoneinfo").ZoneInfo("America/Los_Angeles"))
    assert local.strftime("%H:%M") in body and ("PST" in body or "PDT" in body)


def test_incomplete_tab_says_what_is_missing(client, alice):
    body = client.get(event_url(alice, show="incomplete")).content.decode()
    assert "spring.complete@example.org" not in body
    assert "spring.paidonly@example.org" in body and "booking a place" in body
    assert "spring.bookedonly@example.org" in body and "payment (Stripe)" in body


def test_search_by_name_or_email(client, alice):
    body = client.get(event_url(alice, q="PAIDONLY")).content.decode()
    assert "spring.paidonly@example.org" in body and "spring.bookedonly@example.org" not in body
    body = client.get(event_url(alice, q="Spring+Bookedonly")).content.decode()
    assert "spring.bookedonly@example.org" in body and "spring.paidonly@example.org" not in body
    assert "Nobody matches" in client.get(event_url(alice, q="zzz")).content.decode()


@pytest.mark.parametrize("query", ["page=999", "page=abc", "show=bogus", "q=" + "x" * 300])
def test_odd_query_parameters_never_fail(client, alice, query):
    assert client.get(event_url(alice) + "?" + query).status_code == 200


def test_money_is_hidden_by_default_on_page_detail_csv_and_feed(client, alice):
    reg = Registration.objects.get(attendee__email="spring.complete@example.org")
    pages = [
        client.get(event_url(alice)).content.decode(),
        client.get(reverse("cohost:registration", args=[alice.event.slug, reg.reference])).content.decode(),
        client.get(reverse("cohost:export", args=[alice.event.slug])).content.decode(),
        feed(client, alice),
    ]
    for body in pages:
        assert AMOUNT_TEXT not in body and "USD" not in body
    assert "Paid" not in export_rows(client, alice)[0]


def test_money_is_shown_when_the_grant_allows_it_but_never_in_the_feed(client, alice):
    allow_money(alice)
    reg = Registration.objects.get(attendee__email="spring.complete@example.org")
    assert f"{AMOUNT_TEXT} USD" in client.get(event_url(alice)).content.decode()
    detail = client.get(reverse("cohost:registration", args=[alice.event.slug, reg.reference])).content.decode()
    assert f"{AMOUNT_TEXT} USD" in detail
    rows = export_rows(client, alice)
    assert rows[0][-3:] == ["Paid", "Refunded", "Intake answers"]
    assert [r[-3] for r in rows if r[1] == "spring.complete@example.org"] == [f"{AMOUNT_TEXT} USD"]
    assert AMOUNT_TEXT not in feed(client, alice)


def test_money_permission_is_per_event(client, world, alice):
    other = EventFactory(name="Summer camp", slug="summer-camp")
    map_event(other)
    CoHostGrant.objects.create(cohost=alice.cohost, event=other, can_see_money=True)
    pay(other, "summer.person@example.org", "Summer Person", amount=55500)
    assert "555.00" in client.get(reverse("cohost:event", args=["summer-camp"])).content.decode()
    assert AMOUNT_TEXT not in client.get(event_url(alice)).content.decode()


def test_donation_sizes_are_money_too(client, world, alice):
    gift = EventFactory(name="Gift retreat", slug="gift-retreat", kind="donation", price=None)
    map_event(gift)
    grant = CoHostGrant.objects.create(cohost=alice.cohost, event=gift)
    pay(gift, "giver@example.org", "Generous Giver", amount=77700)
    book(gift, "giver@example.org", "Generous", "Giver")
    url = reverse("cohost:event", args=["gift-retreat"])
    assert "777.00" not in client.get(url).content.decode()
    grant.can_see_money = True
    grant.save()
    body = client.get(url).content.decode()
    assert "Donation" in body and "777.00 USD" in body


def test_money_review_reasons_are_not_named_without_money_permission(client, world, alice):
    reg = Registration.objects.get(attendee__email="spring.complete@example.org")
    payment = reg.payments.get()
    pay(alice.event, "", "", status="disputed", amount=AMOUNT, charge_id=payment.charge_id, checkout_session_id="",
        source_id="dp_test_1", payment_intent_id=payment.payment_intent_id, dispute_id="dp_test_1",
        dispute_status="needs_response")  # fmt: skip
    reg.refresh_from_db()
    assert reg.status == "needs_review"
    body = client.get(event_url(alice, show="incomplete")).content.decode()
    assert "being checked by the organisers" in body and "Dispute" not in body
    allow_money(alice)
    assert "Dispute" in client.get(event_url(alice, show="incomplete")).content.decode()


def test_csv_export_has_everyone_and_honours_the_incomplete_filter(client, alice):
    rows = export_rows(client, alice)
    assert rows[0][:5] == ["Name", "Email", "Phone", "Status", "Missing"]
    assert sorted(r[1] for r in rows[1:]) == sorted(alice.emails)
    incomplete = export_rows(client, alice, show="incomplete")
    assert sorted(r[1] for r in incomplete[1:]) == sorted(alice.emails[1:])


def test_csv_cells_cannot_run_as_spreadsheet_formulas(client, world, alice):
    pay(alice.event, "formula@example.org", '=HYPERLINK("http://x","y")')
    names = [r[0] for r in export_rows(client, alice)]
    assert '\'=HYPERLINK("http://x","y")' in names


def test_csv_opens_in_excel_with_accented_names_intact(client, world, alice):
    # Excel reads a CSV without a UTF-8 byte order mark as the local code page: "José" → "JosÃ©".
    pay(alice.event, "jose@example.org", "José Núñez")
    content = client.get(reverse("cohost:export", args=[alice.event.slug])).content
    assert content.startswith(b"\xef\xbb\xbf")
    assert "José Núñez" in [r[0] for r in export_rows(client, alice)]


def test_attendee_table_is_paginated_by_100(client, world, alice):
    for i in range(101):
        book(alice.event, f"bulk{i:03d}@example.org", "Bulk", f"{i:03d}")
    first = client.get(event_url(alice)).content.decode()
    assert "Page 1 of 2" in first and "104 people" in first
    second = client.get(event_url(alice, page=2)).content.decode()
    assert second.count('data-label="Email"') == 4


def test_page_queries_do_not_grow_with_registrations(client, world, alice):
    def queries(url):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx)

    urls = [event_url(alice), reverse("cohost:export", args=[alice.event.slug]), reverse("cohost:index")]
    small = [queries(u) for u in urls]
    for i in range(30):
        pay(alice.event, f"many{i}@example.org", f"Many {i}")
        book(alice.event, f"many{i}@example.org", "Many", str(i), intake={"Q": "A"})
    assert [queries(u) for u in urls] == small


def test_registration_page_shows_the_person_and_what_is_missing(client, alice):
    reg = Registration.objects.get(attendee__email="spring.paidonly@example.org")
    body = client.get(reverse("cohost:registration", args=[alice.event.slug, reg.reference])).content.decode()
    assert "spring.paidonly@example.org" in body and "booking a place" in body


def test_rescheduled_booking_shows_the_new_time(client, world, alice):
    new_start = alice.event.starts_at + timedelta(days=1, hours=3)
    result = book(alice.event, "moving@example.org", "Moving", "Person", starts_at=alice.event.starts_at)
    from registrations.services import apply_booking
    from registrations.signals import BookingSignal

    apply_booking(BookingSignal(status="rescheduled", source_id=result.fact.acuity_appointment_id,
                                event_keys=(("acuity_appointment_type", f"type-{alice.event.slug}"),),
                                email="moving@example.org", first_name="Moving", last_name="Person",
                                starts_at=new_start, occurred_at=timezone.now() + timedelta(seconds=5),
                                raw_ref="acuity-resched"))  # fmt: skip
    body = client.get(event_url(alice, q="moving")).content.decode()
    local = timezone.localtime(new_start, __import__("zoneinfo").ZoneInfo(alice.event.timezone))
    assert local.strftime("%d %b %Y, %H:%M") in body and "rescheduled" in body


# --- Calendar feed ----------------------------------------------------------------------------


def test_feed_has_one_event_per_cohosted_event_with_time_and_place(client, world):
    extra = EventFactory(name="Winter gathering", slug="winter", location="Hall", ends_at=None)
    CoHostGrant.objects.create(cohost=world.alice.cohost, event=extra)
    cal = Calendar.from_ical(feed(client, world.alice))
    events = {str(e["summary"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {"Spring retreat", "Winter gathering"}
    spring = events["Spring retreat"]
    assert spring.decoded("dtstart") == world.alice.event.starts_at.replace(microsecond=0)
    assert spring.decoded("dtend") == world.alice.event.ends_at.replace(microsecond=0)
    assert str(spring["location"]) == "North meadow"
    assert events["Winter gathering"].decoded("dtend") == (extra.starts_at + timedelta(hours=2)).replace(microsecond=0)
    assert "1 complete, 2 still incomplete" in str(spring["description"])


def test_feed_never_names_attendees(client, world):
    body = feed(client, world.alice)
    assert not any(email in body for email in world.alice.emails)
    assert "Spring Complete" not in body


def test_a_regenerated_feed_link_revokes_the_old_one(client, world):
    old = world.alice.cohost.calendar_token
    new = regenerate_calendar_token(world.alice.cohost, SYSTEM)
    assert new != old
    assert client.get(reverse("cohost:calendar", args=[old])).status_code == 404
    assert client.get(reverse("cohost:calendar", args=[new])).status_code == 200


def test_feed_of_a_switched_off_cohost_is_gone(client, world):
    world.alice.cohost.is_active = False
    world.alice.cohost.save()
    assert client.get(reverse("cohost:calendar", args=[world.alice.cohost.calendar_token])).status_code == 404


@pytest.mark.parametrize("token", ["x" * 43, "short", "../../etc"])
def test_unknown_feed_links_are_404(client, db, token):
    assert client.get(f"/cohost/calendar/{token}.ics").status_code == 404
