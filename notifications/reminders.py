"""Processing one claimed reminder: re-check, live check, then send (or don't).

1. Take the reminder's lease by compare-and-set (open status, due, lease free), so the task and a
   rerun or the scan's sweep never process one reminder at the same time.
2. Re-check it is still due (``policy.why_not_due``): anything may have changed since the scan.
   Not due → ``skipped`` with the reason. Quiet hours → ``deferred`` until they end.
3. Live check (``notifications.livecheck``). Found → applied through the normal path; if the
   registration is no longer one-sided the reminder is ``suppressed`` and one ``suppressed``
   message row per channel records why. Nothing found, but something applied that stops it (a
   cancelled appointment: paid but cancelled goes to an operator) → ``skipped``. Provider error
   → ``deferred`` to the next scan (see below).
4. Otherwise render the messages, create one row per channel (unique per reminder and channel),
   mark the reminder ``sent`` in the same transaction, then deliver each row.

Why a provider error defers instead of sending: the reminder exists to ask for the one thing
the attendee has not done. If we cannot see whether they did it, sending risks asking someone who
already paid to pay again — the message most likely to cause a double payment, a complaint or an
unsubscribe. Waiting costs little: the next scan is five minutes away, reminders are not
time-critical, a deferred reminder is visible in the admin with its error, and the event's start
stops them all anyway.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from .delivery import REMINDER_KINDS, create_message, deliver, free_lease
from .livecheck import LiveCheckError, live_check
from .models import NotificationLog, Reminder
from .policy import MISSING_FOR_STATUS, channels_for, in_quiet_hours, quiet_hours_end, why_not_due
from .render import render_reminder
from .tokens import status_url, unsubscribe_url

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
LIVE_CHECK_RETRY = timedelta(minutes=5)
KINDS = {missing: kind for kind, missing in REMINDER_KINDS.items()}  # what is missing → message kind


def _take(reminder_id: int, now) -> bool:
    return bool(
        Reminder.objects.filter(pk=reminder_id, status__in=Reminder.OPEN)
        .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))
        .filter(free_lease(now))
        .update(locked_until=now + LEASE)
    )


def _close(reminder: Reminder, status: str, note: str, **extra) -> None:
    Reminder.objects.filter(pk=reminder.pk).update(
        status=status, note=note[:500], decided_at=timezone.now(), locked_until=None, **extra
    )
    reminder.status = status
    reminder.note = note[:500]


def _defer(reminder: Reminder, until, note: str, *, count_attempt: bool = False) -> None:
    extra = {"attempts": F("attempts") + 1} if count_attempt else {}
    Reminder.objects.filter(pk=reminder.pk).update(
        status=Reminder.Status.DEFERRED, retry_at=until, note=note[:500], locked_until=None, **extra
    )
    reminder.status = Reminder.Status.DEFERRED


def process_reminder(reminder_id: int, *, now=None) -> str:
    """Returns what happened: sent / suppressed / skipped / deferred / busy."""
    now = now or timezone.now()
    if not _take(reminder_id, now):
        return "busy"
    reminder = Reminder.objects.select_related("registration__event", "registration__attendee").get(pk=reminder_id)
    registration = reminder.registration

    reason = why_not_due(registration, reminder.missing, now)
    if reason:
        _close(reminder, Reminder.Status.SKIPPED, f"Not sent: {reason}")
        return "skipped"
    if in_quiet_hours(registration.event, now):
        _defer(reminder, quiet_hours_end(registration.event, now), "Waiting for the end of quiet hours")
        return "deferred"

    try:
        check = live_check(registration, reminder.missing, raw_ref=f"reminder-live-check:{reminder.pk}")
    except LiveCheckError as exc:
        log.warning("reminder %s deferred: live check failed: %s", reminder.pk, exc)
        _defer(reminder, now + LIVE_CHECK_RETRY, f"Live check failed, will retry: {exc}", count_attempt=True)
        return "deferred"

    if check.found:
        registration.refresh_from_db(fields=["status", "status_changed_at"])
        if MISSING_FOR_STATUS.get(registration.status) != reminder.missing:
            _suppress(reminder, registration, f"Not sent: the live check found {check.summary}")
            return "suppressed"
        # The status still lacks the same half, but what was found may stop the reminder anyway
        # (a bank debit now clearing: asking for payment would risk a second one).
        reason = why_not_due(registration, reminder.missing, now)
        if reason:
            _suppress(reminder, registration, f"Not sent: the live check found {check.summary}; {reason}")
            return "suppressed"
    elif check.asked:
        # Nothing found that closes the gap, but what was applied may still have changed things
        # (a cancelled appointment: paid but cancelled goes to an operator).
        registration.refresh_from_db(fields=["status", "status_changed_at"])
        reason = why_not_due(registration, reminder.missing, now)
        if reason:
            _close(reminder, Reminder.Status.SKIPPED, f"Not sent: {reason}")
            return "skipped"

    return _send(reminder, registration, now)


def _suppress(reminder: Reminder, registration, note: str) -> None:
    with transaction.atomic():
        for channel in channels_for(registration) or ["email"]:
            create_message(
                channel=channel,
                kind=KINDS[reminder.missing],
                recipient=_recipient(registration, channel),
                registration=registration,
                reminder=reminder,
                dedupe_key=f"reminder/{reminder.pk}/{channel}",
                status=NotificationLog.Status.SUPPRESSED,
                error=note,
            )
        _close(reminder, Reminder.Status.SUPPRESSED, note)


def _recipient(registration, channel: str) -> str:
    attendee = registration.attendee
    return attendee.email if channel == "email" else attendee.phone


def unsubscribe_headers(url: str) -> dict:
    # RFC 8058: the mail provider POSTs "List-Unsubscribe=One-Click" to the URL, no user click.
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def build_messages(reminder: Reminder, registration) -> list[dict]:
    """The rows a reminder sends, one per channel (also used by the admin preview)."""
    unsub = unsubscribe_url(registration.attendee_id)
    rendered = render_reminder(
        registration,
        reminder.missing,
        reminder.number,
        status_url=status_url(registration.pk),
        unsubscribe_url=unsub,
    )
    messages = []
    for channel in channels_for(registration):
        if channel == "email":
            messages.append(
                {
                    "channel": channel,
                    "subject": rendered.subject,
                    "body": rendered.text,
                    "html": rendered.html,
                    "headers": unsubscribe_headers(unsub),
                }
            )
        else:
            messages.append({"channel": channel, "body": rendered.sms})
    if rendered.errors:
        log.warning("reminder %s: event template problems: %s", reminder.pk, "; ".join(rendered.errors))
    return messages


def _send(reminder: Reminder, registration, now) -> str:
    with transaction.atomic():
        rows = []
        for spec in build_messages(reminder, registration):
            row, _ = create_message(
                kind=KINDS[reminder.missing],
                recipient=_recipient(registration, spec["channel"]),
                registration=registration,
                reminder=reminder,
                dedupe_key=f"reminder/{reminder.pk}/{spec['channel']}",
                **spec,
            )
            rows.append(row)
        _close(
            reminder,
            Reminder.Status.SENT,
            f"Sent by {', '.join(r.channel for r in rows)}",
        )
    for row in rows:
        deliver(row.pk)
    return "sent"
