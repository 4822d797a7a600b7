"""Which registrations the scan picks, and which it never touches."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Reminder
from notifications.scan import claim, select_due
from registrations.audit import Actor
from registrations.models import Registration, Status
from registrations.resolutions import merge_registrations

from .conftest import make_registration

REMINDABLE = {Status.PAID_ONLY, Status.BOOKED_ONLY}

# timing → (hours one-sided, existing reminders [(number, status, hours ago)], due?, next number)
TIMINGS = {
    "too_soon": (1, [], False, None),
    "due_first": (48, [], True, 1),
    "spacing_not_elapsed": (100, [(1, Reminder.Status.SENT, 2)], False, None),
    "due_second": (100, [(1, Reminder.Status.SENT, 72)], True, 2),
    "max_reached": (200, [(1, Reminder.Status.SENT, 150), (2, Reminder.Status.SENT, 72)], False, None),
    "previous_still_open": (100, [(1, Reminder.Status.DEFERRED, 72)], False, None),
}
# opt-out → (attendee fields, event sms on?, still has a channel?)
OPT_OUTS = {
    "none": ({}, False, True),
    "email_opted_out_no_phone": ({"email_opt_out": True}, False, False),
    "email_opted_out_sms_left": ({"email_opt_out": True, "phone": "+14155550123"}, True, True),
    "both_opted_out": ({"email_opt_out": True, "sms_opt_out": True, "phone": "+14155550123"}, True, False),
}


@pytest.mark.parametrize("started", [False, True], ids=["upcoming", "started"])
@pytest.mark.parametrize("opt_out", list(OPT_OUTS))
@pytest.mark.parametrize("timing", list(TIMINGS))
@pytest.mark.parametrize("status", list(Status.values))
def test_due_selection_matrix(event, status, timing, opt_out, started):
    hours, reminders, timing_due, number = TIMINGS[timing]
    fields, sms_on, has_channel = OPT_OUTS[opt_out]
    event.sms_enabled = sms_on
    if started:
        event.starts_at = timezone.now() - timedelta(hours=1)
    event.save()
    reg = make_registration(event, status, hours_ago=hours, **fields)
    now = timezone.now()
    for n, st, ago in reminders:
        Reminder.objects.create(
            registration=reg,
            number=n,
            missing="booking",
            status=st,
            created_at=now - timedelta(hours=ago),
            decided_at=now - timedelta(hours=ago),
        )

    due, _ = select_due(now)

    expected = status in REMINDABLE and timing_due and has_channel and not started
    assert [(pk, n) for pk, _, n in due] == ([(reg.pk, number)] if expected else [])


def test_events_with_reminders_switched_off_are_never_scanned(event, one_sided):
    one_sided(Status.PAID_ONLY)
    event.reminders_enabled = False
    event.save()
    assert select_due()[0] == []


def test_anonymised_attendees_and_merged_registrations_are_never_reminded(event, one_sided):
    gone = one_sided(Status.PAID_ONLY)
    gone.attendee.anonymised_at = timezone.now()
    gone.attendee.save()
    merged = one_sided(Status.BOOKED_ONLY)
    survivor = one_sided(Status.COMPLETE)
    merge_registrations(survivor, merged, Actor.system("test"), reason="same person")
    assert not Registration.objects.filter(pk=merged.pk).exists()  # merging removes the other one
    assert select_due()[0] == []


def test_each_event_uses_its_own_delay_spacing_and_maximum(event, one_sided):
    from tests.factories import EventFactory

    patient = EventFactory(quiet_hours_start=0, quiet_hours_end=0, reminder_delay_hours=72)
    eager = EventFactory(quiet_hours_start=0, quiet_hours_end=0, reminder_delay_hours=1)
    a = make_registration(patient, Status.PAID_ONLY, hours_ago=48)
    b = make_registration(eager, Status.BOOKED_ONLY, hours_ago=2)
    due = {pk for pk, _, _ in select_due()[0]}
    assert b.pk in due and a.pk not in due


def test_quiet_hours_hold_back_the_whole_event_in_its_own_time_zone(event, one_sided):
    from datetime import UTC, datetime

    reg = one_sided(Status.PAID_ONLY)
    event.quiet_hours_start, event.quiet_hours_end, event.timezone = 21, 8, "America/Los_Angeles"
    event.save()
    night = datetime(2026, 6, 1, 6, 30, tzinfo=UTC)  # 23:30 in Los Angeles (PDT)
    morning = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)  # 09:00 in Los Angeles
    Registration.objects.filter(pk=reg.pk).update(status_changed_at=night - timedelta(days=2))
    event.starts_at = morning + timedelta(days=10)
    event.save()

    due, result = select_due(night)
    assert due == [] and result.quiet_events == 1
    assert [pk for pk, _, _ in select_due(morning)[0]] == [reg.pk]


def test_a_claim_is_won_once_even_when_the_same_selection_is_claimed_twice(event, one_sided):
    reg = one_sided(Status.PAID_ONLY)
    due, _ = select_due()
    first = claim(due)
    second = claim(due)  # a concurrent scan that selected the same rows
    assert len(first) == 1 and second == []
    assert Reminder.objects.get(pk=first[0]).registration_id == reg.pk


def test_someone_who_paid_then_cancelled_their_booking_is_not_nudged_to_book_again(event):
    from registrations.models import Booking

    reg = make_registration(event, Status.PAID_ONLY, hours_ago=72)
    Booking.objects.create(acuity_appointment_id="cancelled-1", event=event, registration=reg, cancelled=True)
    due, _ = select_due(timezone.now())
    assert due == []


def test_someone_who_said_stop_under_the_merged_address_stays_unsubscribed_under_the_other(event, one_sided):
    """Two registrations turn out to be one person; the one merged away had unsubscribed from
    email and texts. The surviving attendee keeps that choice for every later message."""
    merged = one_sided(Status.BOOKED_ONLY)
    merged.attendee.email_opt_out = merged.attendee.sms_opt_out = True
    merged.attendee.opted_out_at = timezone.now() - timedelta(days=3)
    merged.attendee.save()
    survivor = one_sided(Status.PAID_ONLY)

    merge_registrations(survivor, merged, Actor.system("test"), reason="same person")

    survivor.attendee.refresh_from_db()
    assert survivor.attendee.email_opt_out and survivor.attendee.sms_opt_out
    assert survivor.attendee.opted_out_at == merged.attendee.opted_out_at
    from registrations.models import AuditLog

    entry = AuditLog.objects.get(action="registration.merged")
    assert entry.after["opt_outs_carried"] == ["email_opt_out", "sms_opt_out"]
