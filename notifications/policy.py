"""The reminder policy of an event, and the rules that say whether a reminder may go out now.

The policy lives on ``registrations.Event`` (edited in the Event admin, "Reminders" section):

==========================  =========  ==============================================================
field                       default    meaning
==========================  =========  ==============================================================
reminders_enabled           on         off = this event never reminds
reminder_delay_hours        24         one-sided for this long before the first reminder
reminder_spacing_hours      48         at least this long between two reminders
reminder_max_count          2          never more than this many reminders per registration
sms_enabled                 off        also text attendees who gave a phone number
quiet_hours_start / _end    21 / 8     no messages between these hours, in the event's time zone
email_*_template, sms_*     blank      blank = the default wording (notifications/templates/…)
==========================  =========  ==============================================================

Channels: email whenever the attendee has an address and has not unsubscribed; SMS when they have
a phone number, SMS is enabled for the event and they have not replied STOP.

The scan (``notifications.scan``) applies the same rules as set-based queries; ``why_not_due``
re-checks one registration just before sending, because anything may have changed since.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

from django.utils import timezone

from registrations.clearing import still_clearing
from registrations.models import Payment, Status

from .models import Reminder

# Which status needs which half, and which half a reminder asks for.
MISSING_FOR_STATUS = {
    Status.PAID_ONLY: Reminder.Missing.BOOKING,
    Status.BOOKED_ONLY: Reminder.Missing.PAYMENT,
}
REMINDABLE_STATUSES = tuple(MISSING_FOR_STATUS)


def event_zone(event) -> zoneinfo.ZoneInfo:
    return event.zone


def in_quiet_hours(event, now: datetime | None = None) -> bool:
    """Quiet from ``quiet_hours_start`` (inclusive) to ``quiet_hours_end`` (exclusive), local time.
    21→8 wraps midnight; equal hours mean no quiet hours at all."""
    start, end = event.quiet_hours_start % 24, event.quiet_hours_end % 24
    if start == end:
        return False
    hour = (now or timezone.now()).astimezone(event_zone(event)).hour
    if start < end:
        return start <= hour < end
    return hour >= start or hour < end


def quiet_hours_end(event, now: datetime | None = None) -> datetime:
    """The next moment messages may go out (``now`` itself when not in quiet hours)."""
    now = now or timezone.now()
    if not in_quiet_hours(event, now):
        return now
    local = now.astimezone(event_zone(event))
    end = local.replace(hour=event.quiet_hours_end % 24, minute=0, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    # Normalise through UTC so a DST change overnight lands on the right wall-clock hour.
    return end.astimezone(zoneinfo.ZoneInfo("UTC"))


def email_allowed(attendee) -> bool:
    return bool(attendee.email and "@" in attendee.email) and not attendee.email_opt_out


def sms_allowed(attendee, event) -> bool:
    return bool(event.sms_enabled and attendee.phone) and not attendee.sms_opt_out


def channels_for(registration) -> list[str]:
    attendee, event = registration.attendee, registration.event
    channels = []
    if email_allowed(attendee):
        channels.append("email")
    if sms_allowed(attendee, event):
        channels.append("sms")
    return channels


def payment_clearing(registration) -> bool:
    """A checkout completed with a bank debit whose funds have not arrived yet ("awaiting funds").
    The registration still counts as booked-only, but asking for the payment again invites a
    second one; a debit that fails turns ``failed`` and the payment reminders resume. A debit
    still awaiting funds after ``PAYMENT_CLEARING_REVIEW_DAYS`` goes to an operator
    (``registrations.clearing``); once they choose "remind to pay" it no longer holds anything."""
    return still_clearing(registration.payments.all()).exists()


def clearing_only_as_a_seat(registration) -> bool:
    """What is clearing is only a seat of someone else's group bank payment (they booked with a
    seat link): the attendee made no bank payment themselves, and the pages say so."""
    clearing = still_clearing(registration.payments.all())
    return clearing.exists() and not clearing.exclude(method=Payment.Method.GROUP_SEAT).exists()


def group_seat_failed(registration) -> bool:
    """The attendee's place was a seat of a group payment that failed (the payer is asked to pay
    again for every seat): they should check with the payer before paying for it themselves."""
    return registration.payments.filter(method=Payment.Method.GROUP_SEAT, state=Payment.State.FAILED).exists()


def why_not_due(registration, missing: str, now: datetime | None = None) -> str:
    """ "" when a reminder asking for ``missing`` may still go out; otherwise the reason, in words
    an operator understands (stored on the Reminder)."""
    now = now or timezone.now()
    event = registration.event
    if not event.reminders_enabled:
        return "reminders are switched off for this event"
    if event.starts_at <= now:
        return "the event has started"
    if MISSING_FOR_STATUS.get(registration.status) != missing:
        return f"the registration is now {registration.get_status_display().lower()}"
    if missing == Reminder.Missing.PAYMENT and payment_clearing(registration):
        return "their bank payment is still clearing (Stripe: awaiting funds)"
    if missing == Reminder.Missing.BOOKING and registration.bookings.filter(cancelled=True).exists():
        return "they cancelled their booking (an operator decides on a refund or credit)"
    if registration.attendee.anonymised_at:
        return "the attendee was anonymised"
    if not channels_for(registration):
        return "no channel left (opted out, or no address or phone)"
    return ""
