"""Turning a queued NotificationLog row into a sent message, at most once.

1. **Claim** the row by compare-and-set (``status=queued``, no provider id, lease free, due):
   ``attempts + 1``, ``locked_until = now + LEASE``, ``first_attempt_at`` kept from the first
   try. Two workers (the reminder task and the retry sweep, or a task django-q2 re-presented)
   cannot both hold it.
2. **Send** through the channel's transport. Resend gets the row's idempotency key; Twilio is
   asked first whether it already has this message when this is not the first attempt.
3. **Record** the provider id and ``sent`` — or the error: permanent errors (and Twilio 21610,
   which also opts the attendee out of SMS) end as ``failed``; others wait
   ``BACKOFF[attempt]`` and are retried by the scan's sweep, up to ``MAX_ATTEMPTS``. When the
   provider says it already sent this message (Resend's 409 for a changed payload under our
   key) the row is ``sent`` without an id, with a note; the status webhook adds the id.

A reminder message retried later is dropped (``suppressed``) when the registration no longer
needs it: someone who paid in the meantime must not get "please pay".
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import NotificationLog
from .transports import ResendTransport, TransportError, transport_for

log = logging.getLogger(__name__)

Status = NotificationLog.Status
LEASE = timedelta(minutes=2)  # longer than any transport's HTTP timeout
MAX_ATTEMPTS = 5
BACKOFF = [timedelta(minutes=m) for m in (5, 15, 60, 240)]
# Resend remembers an idempotency key for 24 h; past that a retry could send a second copy.
IDEMPOTENCY_WINDOW = timedelta(hours=23)


def free_lease(now) -> Q:
    return Q(locked_until__isnull=True) | Q(locked_until__lt=now)


def create_message(
    *,
    channel: str,
    kind: str,
    recipient: str,
    subject: str = "",
    body: str = "",
    html: str = "",
    headers: dict | None = None,
    registration=None,
    attendee=None,
    reminder=None,
    dedupe_key: str | None = None,
    status: str = Status.QUEUED,
    error: str = "",
) -> tuple[NotificationLog, bool]:
    """Create the row (or return the existing one with the same ``dedupe_key``)."""
    now = timezone.now()
    values = {
        "channel": channel,
        "kind": kind,
        "recipient": recipient,
        "subject": subject[:300],
        "body": body,
        "html": html or "",
        "headers": headers or {},
        "registration": registration,
        "attendee": attendee if attendee is not None else getattr(registration, "attendee", None),
        "reminder": reminder,
        "status": status,
        "error": error,
        "next_attempt_at": now if status == Status.QUEUED else None,
        "status_at": now,
    }
    if dedupe_key:
        return NotificationLog.objects.get_or_create(dedupe_key=dedupe_key, defaults=values)
    return NotificationLog.objects.create(**values), True


def _claim(message_id: int, now) -> bool:
    return bool(
        NotificationLog.objects.filter(pk=message_id, status=Status.QUEUED, provider_id="")
        .filter(free_lease(now))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(
            attempts=F("attempts") + 1,
            locked_until=now + LEASE,
            first_attempt_at=Coalesce(F("first_attempt_at"), now),
        )
    )


def deliver(message_id: int, *, now=None) -> NotificationLog | None:
    """Send one queued message if it is ours to send now. Returns the row as it ended up (or None
    when it does not exist). Never raises for a provider problem."""
    now = now or timezone.now()
    if not _claim(message_id, now):
        return NotificationLog.objects.filter(pk=message_id).first()
    message = NotificationLog.objects.select_related(
        "registration__event", "registration__attendee", "reminder", "attendee"
    ).get(pk=message_id)

    reason = _no_longer_needed(message, now)
    if reason:
        return _finish(message, Status.SUPPRESSED, error=f"Not sent: {reason}")
    if message.registration is not None and (message.reminder_id or message.kind in REMINDER_KINDS):
        from .policy import in_quiet_hours, quiet_hours_end

        if in_quiet_hours(message.registration.event, now):
            # A retry that fell into the night waits for the morning; this was not an attempt.
            NotificationLog.objects.filter(pk=message.pk, status=Status.QUEUED).update(
                attempts=F("attempts") - 1,
                locked_until=None,
                next_attempt_at=quiet_hours_end(message.registration.event, now),
            )
            message.refresh_from_db()
            return message

    transport = transport_for(message.channel)
    if (
        isinstance(transport, ResendTransport)
        and message.attempts > 1
        and message.first_attempt_at
        and now - message.first_attempt_at > IDEMPOTENCY_WINDOW
    ):
        return _finish(message, Status.FAILED, error="Not retried: Resend's 24 h duplicate protection has expired")

    note = ""
    try:
        provider_id = transport.send(message)
    except TransportError as exc:
        if not exc.already_sent:
            return _failed_attempt(message, transport.name, exc, now)
        # The provider sent it on an earlier attempt we never recorded: not a failure.
        provider_id, note = "", exc.message
    except Exception as exc:  # a bug must not leave the row leased forever without a trace
        log.exception("transport %s crashed on message %s", transport.name, message.uuid)
        return _failed_attempt(message, transport.name, TransportError(f"{type(exc).__name__}: {exc}"), now)

    sent_at = timezone.now()
    # Without an id (already sent), keep one a status webhook may have recorded meanwhile.
    recorded_id = {"provider_id": provider_id[:100]} if provider_id else {}
    NotificationLog.objects.filter(pk=message.pk, status=Status.QUEUED).update(
        status=Status.SENT,
        provider=transport.name,
        sent_at=sent_at,
        status_at=sent_at,
        locked_until=None,
        next_attempt_at=None,
        error=note[:2000],
        **recorded_id,
    )
    # A status webhook may have found the row already (Resend tags / Twilio callback carry our
    # uuid); only fill in what is still empty.
    if provider_id:
        NotificationLog.objects.filter(pk=message.pk, provider_id="").update(
            provider=transport.name, provider_id=provider_id[:100]
        )
    message.refresh_from_db()
    log.info(
        "sent %s %s via %s (%s), attempt %d",
        message.channel,
        message.kind,
        transport.name,
        provider_id,
        message.attempts,
    )
    return message


# NotificationLog.kind of reminder messages → what they ask for (``reminders.KINDS`` is its inverse).
REMINDER_KINDS = {"reminder_booking": "booking", "reminder_payment": "payment"}


def _no_longer_needed(message: NotificationLog, now) -> str:
    if message.kind not in REMINDER_KINDS and message.reminder_id is None:
        return ""
    if message.registration is None:
        # Merging two registrations deletes one (its reminders cascade, this row keeps a NULL):
        # a queued "please pay" for it must not reach someone who is now complete.
        return "the registration no longer exists (merged or removed)"
    from .policy import why_not_due  # here: policy imports models only, but keep delivery light

    registration = message.registration
    missing = message.reminder.missing if message.reminder_id else REMINDER_KINDS[message.kind]
    reason = why_not_due(registration, missing, now)
    if reason:
        return reason
    attendee = registration.attendee
    if message.channel == NotificationLog.Channel.EMAIL and attendee.email_opt_out:
        return "the attendee unsubscribed from email"
    if message.channel == NotificationLog.Channel.SMS and attendee.sms_opt_out:
        return "the attendee replied STOP"
    if message.channel == NotificationLog.Channel.SMS and not registration.event.sms_enabled:
        return "text messages are switched off for this event"
    return ""


def _finish(message: NotificationLog, status: str, *, error: str = "") -> NotificationLog:
    now = timezone.now()
    NotificationLog.objects.filter(pk=message.pk, status=Status.QUEUED).update(
        status=status, error=error[:2000], status_at=now, locked_until=None, next_attempt_at=None
    )
    message.refresh_from_db()
    return message


def _failed_attempt(message: NotificationLog, provider: str, exc: TransportError, now) -> NotificationLog:
    if exc.opt_out and message.channel == NotificationLog.Channel.SMS:
        from .optout import opt_out_message_recipient

        opt_out_message_recipient(message, "sms", via=f"{provider}-{exc.code or 'opt-out'}")
    final = exc.permanent or message.attempts >= MAX_ATTEMPTS
    if final:
        log.warning(
            "message %s (%s %s) failed for good after %d attempt(s): %s",
            message.uuid,
            message.channel,
            message.kind,
            message.attempts,
            exc.message,
        )
        NotificationLog.objects.filter(pk=message.pk, status=Status.QUEUED).update(
            status=Status.FAILED,
            provider=provider,
            error=exc.message[:2000],
            status_at=timezone.now(),
            locked_until=None,
            next_attempt_at=None,
        )
    else:
        delay = BACKOFF[min(message.attempts - 1, len(BACKOFF) - 1)]
        log.info("message %s attempt %d failed (%s); retry in %s", message.uuid, message.attempts, exc.message, delay)
        NotificationLog.objects.filter(pk=message.pk, status=Status.QUEUED).update(
            provider=provider,
            error=f"attempt {message.attempts}: {exc.message}"[:2000],
            locked_until=None,
            next_attempt_at=now + delay,
        )
    message.refresh_from_db()
    return message


def due_for_retry(now=None, limit: int = 500) -> list[int]:
    now = now or timezone.now()
    return list(
        NotificationLog.objects.filter(status=Status.QUEUED, next_attempt_at__lte=now)
        .filter(free_lease(now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
