"""manage.py purge_personal_data: attendees of past events anonymised, money and audit kept."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.utils import timezone

from integrations.models import WebhookEvent
from notifications.models import NotificationLog
from registrations.management.commands.purge_personal_data import months_before, parse_age
from registrations.models import (
    Attendee,
    AttendeeAlias,
    AuditLog,
    Booking,
    Payment,
    Registration,
    ReviewItem,
    Status,
)
from registrations.privacy import scrub_text
from tests.factories import AttendeeFactory, EventFactory, RegistrationFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def purge(*args):
    out = StringIO()
    call_command("purge_personal_data", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def world():
    """A past retreat (ended a month ago), an old one (three years), and an upcoming one."""
    past = EventFactory(slug="spring-retreat", starts_at=NOW - timedelta(days=31), ends_at=NOW - timedelta(days=30))
    old = EventFactory(slug="old-retreat", starts_at=NOW - timedelta(days=3 * 365), ends_at=None)
    upcoming = EventFactory(slug="summer-retreat", starts_at=NOW + timedelta(days=20))

    river = AttendeeFactory(email="river@example.org", name="River Stone", phone="+15551230001")
    AttendeeAlias.objects.create(email="river.stone@work.example", attendee=river, reason="merge")
    river_reg = RegistrationFactory(attendee=river, event=past, status=Status.COMPLETE)
    river_pay = Payment.objects.create(
        checkout_session_id="cs_river",
        payment_intent_id="pi_river",
        event=past,
        registration=river_reg,
        state=Payment.State.PAID,
        amount=12000,
        currency="usd",
        quantity=1,
        email="river@example.org",
        name="River Stone",
        phone="+15551230001",
        raw_refs=["evt_river_paid"],
    )
    river_booking = Booking.objects.create(
        acuity_appointment_id="9001",
        event=past,
        registration=river_reg,
        email="river@example.org",
        other_emails=["river.stone@work.example"],
        first_name="River",
        last_name="Stone",
        phone="+15551230001",
        intake={"Dietary needs": "vegan", "Reference": river_reg.reference},
        intake_reference=river_reg.reference,
        raw_refs=["acuity-digest-1"],
    )
    ReviewItem.objects.create(
        kind=ReviewItem.Kind.SUGGESTED_MATCH,
        key="match:test",
        event=past,
        registration=river_reg,
        explanation="river@example.org paid and RIVER.STONE@work.example booked; River Stone, +15551230001.",
    )

    sky = AttendeeFactory(email="sky@example.org", name="Sky Lake", phone="+15551230002")
    sky_past = RegistrationFactory(attendee=sky, event=past, status=Status.PAID_ONLY)
    RegistrationFactory(attendee=sky, event=upcoming)
    sky_pay = Payment.objects.create(
        checkout_session_id="cs_sky",
        event=past,
        registration=sky_past,
        state=Payment.State.PAID,
        amount=12000,
        currency="usd",
        email="sky@example.org",
        name="Sky Lake",
    )

    stranger_pay = Payment.objects.create(
        checkout_session_id="cs_stranger",
        event=past,
        registration=None,
        state=Payment.State.PAID,
        amount=5000,
        currency="usd",
        email="stranger@example.org",
        name="Un Known",
    )

    moss = AttendeeFactory(email="moss@example.org", name="Moss Fern")
    RegistrationFactory(attendee=moss, event=old, status=Status.COMPLETE)

    return {
        "past": past,
        "old": old,
        "upcoming": upcoming,
        "river": river,
        "river_reg": river_reg,
        "river_pay": river_pay,
        "river_booking": river_booking,
        "sky": sky,
        "sky_pay": sky_pay,
        "stranger_pay": stranger_pay,
        "moss": moss,
    }


def test_attendees_of_a_past_event_are_anonymised_but_the_money_and_ids_stay(world):
    revenue_before = Payment.objects.filter(event=world["past"]).aggregate(total=Sum("amount"))["total"]
    output = purge("--event", "spring-retreat", "--yes")

    river = Attendee.objects.get(pk=world["river"].pk)
    assert river.email == f"anon-{river.pk}@invalid"
    assert (river.name, river.phone) == ("", "")
    assert river.anonymised_at is not None
    assert not AttendeeAlias.objects.filter(attendee=river).exists()

    pay = Payment.objects.get(pk=world["river_pay"].pk)
    assert (pay.email, pay.name, pay.phone) == ("", "", "")
    assert (pay.amount, pay.currency, pay.state, pay.checkout_session_id, pay.payment_intent_id) == (
        12000,
        "usd",
        "paid",
        "cs_river",
        "pi_river",
    )
    booking = Booking.objects.get(pk=world["river_booking"].pk)
    assert (booking.email, booking.first_name, booking.last_name, booking.phone) == ("", "", "", "")
    assert booking.other_emails == [] and booking.intake == {}
    assert booking.acuity_appointment_id == "9001" and booking.intake_reference == world["river_reg"].reference

    reg = Registration.objects.get(pk=world["river_reg"].pk)
    assert reg.status == Status.COMPLETE and reg.reference == world["river_reg"].reference
    revenue_after = Payment.objects.filter(event=world["past"]).aggregate(total=Sum("amount"))["total"]
    assert revenue_after == revenue_before == 29000

    assert "Attendees anonymised: 1" in output
    assert "Payments blanked: 2; bookings blanked: 1" in output  # River's and the unmatched one


def test_an_attendee_also_registered_for_an_upcoming_event_is_left_alone_and_named(world):
    output = purge("--event", "spring-retreat", "--yes")
    sky = Attendee.objects.get(pk=world["sky"].pk)
    assert (sky.email, sky.name, sky.anonymised_at) == ("sky@example.org", "Sky Lake", None)
    assert Payment.objects.get(pk=world["sky_pay"].pk).email == "sky@example.org"
    assert f"attendee #{sky.pk}: also registered for summer-retreat" in output
    assert "Attendees left alone: 1" in output


def test_unmatched_payments_on_the_event_lose_their_contact_details_too(world):
    purge("--event", "spring-retreat", "--yes")
    stranger = Payment.objects.get(pk=world["stranger_pay"].pk)
    assert (stranger.email, stranger.name, stranger.amount) == ("", "", 5000)


def test_review_items_no_longer_name_the_person(world):
    purge("--event", "spring-retreat", "--yes")
    river = world["river"]
    text = ReviewItem.objects.get(key="match:test").explanation
    assert text == f"anon-{river.pk}@invalid paid and anon-{river.pk}@invalid booked; [removed], [removed]."


def test_one_audit_row_with_counts_and_earlier_rows_naming_no_one_purged_untouched(world):
    earlier = list(AuditLog.objects.order_by("pk").values())  # (rows naming River: test_purge_audit_trail)
    purge("--event", "spring-retreat", "--yes")
    rows = AuditLog.objects.filter(action="personal_data.purged")
    assert rows.count() == 1
    row = rows.get()
    assert row.event == world["past"]
    assert row.actor_source == "command:purge_personal_data"
    assert row.after["events"] == ["spring-retreat"]
    assert row.after["counts"]["attendees_anonymised"] == 1
    assert row.after["kept_attendee_ids"] == [world["sky"].pk]
    assert "river" not in str(row.after).lower()
    assert list(AuditLog.objects.exclude(pk=row.pk).order_by("pk").values()) == earlier


def test_a_future_event_is_refused_and_nothing_changes(world):
    with pytest.raises(CommandError, match="only purged after an event is over.*summer-retreat"):
        purge("--event", "summer-retreat", "--yes")
    # A mix of past and future is refused as a whole.
    with pytest.raises(CommandError, match="Nothing was changed"):
        purge("--event", "spring-retreat", "--event", "summer-retreat", "--yes")
    assert Attendee.objects.filter(anonymised_at__isnull=False).count() == 0
    assert not AuditLog.objects.filter(action="personal_data.purged").exists()


def test_an_event_that_has_started_but_not_ended_is_refused(world):
    EventFactory(slug="happening-now", starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(hours=3))
    with pytest.raises(CommandError, match="happening-now"):
        purge("--event", "happening-now", "--yes")


def test_an_unknown_slug_is_refused(world):
    with pytest.raises(CommandError, match="No event with slug nope"):
        purge("--event", "nope", "--yes")


def test_older_than_picks_only_events_that_ended_that_long_ago(world):
    output = purge("--older-than", "2y", "--yes")
    assert "old-retreat" in output and "spring-retreat" not in output
    assert Attendee.objects.get(pk=world["moss"].pk).anonymised_at is not None
    assert Attendee.objects.get(pk=world["river"].pk).anonymised_at is None


def test_older_than_with_nothing_that_old_does_nothing(world):
    assert "Nothing to do" in purge("--older-than", "10y", "--yes")


def test_dry_run_shows_the_counts_and_changes_nothing(world):
    output = purge("--event", "spring-retreat", "--dry-run")
    assert "Attendees anonymised: 1" in output
    assert "Dry run: nothing was changed" in output
    assert Attendee.objects.get(pk=world["river"].pk).email == "river@example.org"
    assert Payment.objects.get(pk=world["river_pay"].pk).email == "river@example.org"
    assert AttendeeAlias.objects.count() == 1
    assert not AuditLog.objects.filter(action="personal_data.purged").exists()


def test_running_it_again_is_harmless(world):
    purge("--event", "spring-retreat", "--yes")
    again = purge("--event", "spring-retreat", "--yes")
    assert "Attendees anonymised: 0 (1 already were)" in again
    river = Attendee.objects.get(pk=world["river"].pk)
    assert river.email == f"anon-{river.pk}@invalid"


def test_without_a_terminal_it_asks_for_yes(world, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(CommandError, match="pass --yes"):
        purge("--event", "spring-retreat")
    assert Attendee.objects.get(pk=world["river"].pk).anonymised_at is None


def test_a_terminal_user_must_type_purge(world, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(CommandError, match="Not confirmed"):
        purge("--event", "spring-retreat")
    monkeypatch.setattr("builtins.input", lambda prompt: "purge")
    assert "Done." in purge("--event", "spring-retreat")


def test_copies_in_sent_messages_and_processed_webhooks_are_scrubbed_pending_webhooks_kept(world):
    """A webhook not yet processed keeps its body: processing it still applies the money or the
    appointment. A message still queued is not sent any more and is scrubbed too
    (test_purge_a_message_still_waiting_is_never_sent.py)."""
    river = world["river"]
    sent = NotificationLog.objects.create(
        channel="email",
        kind="reminder_booking",
        recipient="river@example.org",
        subject="River, book your place",
        body="Hi River Stone",
        html="<p>Hi River Stone</p>",
        status="delivered",
        provider_id="re_1",
        attendee=river,
        registration=world["river_reg"],
    )
    queued = NotificationLog.objects.create(
        channel="sms",
        kind="reminder_booking",
        recipient="+15551230001",
        body="Hi River",
        status="queued",
        attendee=river,
    )
    processed = WebhookEvent.objects.create(
        provider="stripe",
        event_id="evt_river_paid",
        object_id="cs_river",
        status="processed",
        body='{"customer_details": {"email": "river@example.org"}}',
        headers={"Stripe-Signature": "t=1,v1=x"},
    )
    acuity = WebhookEvent.objects.create(
        provider="acuity",
        event_id="acuity-digest-1",
        object_id="9001",
        status="processed",
        body="action=scheduled&id=9001",
    )
    pending = WebhookEvent.objects.create(
        provider="stripe",
        event_id="evt_river_late",
        object_id="cs_river",
        status="received",
        body='{"email": "river@example.org"}',
    )

    output = purge("--event", "spring-retreat", "--yes")

    sent.refresh_from_db()
    assert sent.recipient == f"anon-{river.pk}@invalid"
    assert (sent.body, sent.html, sent.subject) == ("", "", "[removed], book your place")
    assert (sent.status, sent.provider_id) == ("delivered", "re_1")
    queued.refresh_from_db()
    assert (queued.status, queued.recipient, queued.body) == ("suppressed", "[removed]", "")
    processed.refresh_from_db()
    assert (processed.body, processed.headers, processed.event_id) == ("", {}, "evt_river_paid")
    assert WebhookEvent.objects.get(pk=acuity.pk).body == ""
    assert WebhookEvent.objects.get(pk=pending.pk).body == '{"email": "river@example.org"}'
    assert "Messages scrubbed: 2" in output and "Webhook bodies removed: 2" in output


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        ("2y", datetime(2022, 3, 31, 12, tzinfo=UTC)),
        ("18m", datetime(2022, 9, 30, 12, tzinfo=UTC)),
        ("1m", datetime(2024, 2, 29, 12, tzinfo=UTC)),
        ("90d", datetime(2024, 1, 1, 12, tzinfo=UTC)),
        ("2w", datetime(2024, 3, 17, 12, tzinfo=UTC)),
        (" 3Y ", datetime(2021, 3, 31, 12, tzinfo=UTC)),
    ],
)
def test_ages_are_calendar_aware(age, expected):
    assert parse_age(age, datetime(2024, 3, 31, 12, tzinfo=UTC)) == expected


@pytest.mark.parametrize("bad", ["2 years", "y", "-1y", "1.5y", ""])
def test_an_unreadable_age_is_refused_with_an_example(bad):
    with pytest.raises(CommandError, match="like 2y, 18m"):
        parse_age(bad, NOW)


def test_months_before_clamps_to_the_end_of_a_shorter_month():
    assert months_before(datetime(2023, 5, 31), 3).date().isoformat() == "2023-02-28"


def test_scrub_text_replaces_whole_words_only():
    reps = {1: {"old": ["ann@example.org", "Ann"], "new": "anon-1@invalid"}}
    assert scrub_text("Ann (ann@example.org) filed the Annual report", reps) == (
        "[removed] (anon-1@invalid) filed the Annual report"
    )


def test_scrub_text_replaces_an_address_only_where_it_stands_whole():
    reps = {1: {"old": ["ann@example.org"], "new": "anon-1@invalid"}}
    assert scrub_text("jo.ann@example.org, ann@example.org. <ANN@example.org> ann@example.org.uk", reps) == (
        "jo.ann@example.org, anon-1@invalid. <anon-1@invalid> ann@example.org.uk"
    )
