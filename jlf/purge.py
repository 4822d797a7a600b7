"""Copies of attendees' personal data kept outside ``registrations``, scrubbed when
``manage.py purge_personal_data`` anonymises them (receivers of
``registrations.privacy.personal_data_purged``, connected in ``jlf.apps``).

``registrations`` may not import the other apps (dependencies point one way), so the project
package wires them: each receiver imports its model lazily and does nothing if the app or
table is absent.

A message still waiting to go to a purged attendee (queued, or waiting for a retry) is not sent
any more: it would need the address or number just removed, and tell a person whose data was
erased about an event that is over. It is suppressed, saying why, and scrubbed like a sent one;
one a worker is sending at this moment (its lease is held) is scrubbed and left to finish, so its
row records what the provider did. An inbox row not yet processed keeps its body: processing it
still applies what happened to the money or the appointment (a purged payment or booking is
marked, so it never fills the person's details in again).
"""

from __future__ import annotations

from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from registrations.models import Booking, Payment
from registrations.privacy import scrub_text

# The reason a waiting message of a purged attendee was not sent ("Not sent: …", as the delivery
# writes for a message it drops).
NOT_SENT = "Not sent: the attendee's personal data was removed (purge)"


def scrub_messages(sender, attendee_ids, registration_ids, replacements, **kwargs):
    """NotificationLog: a message still waiting (queued, not being sent right now) is suppressed
    with ``NOT_SENT``; then every message: recipient → the anonymous address (email) or
    "[removed]" (SMS); subject scrubbed; body and HTML (names, personal links) emptied. Provider
    ids and the statuses of sent messages stay, so delivery figures do not change."""
    try:
        from notifications.delivery import free_lease
        from notifications.models import NotificationLog
    except ImportError:
        return {}
    messages = NotificationLog.objects.filter(Q(attendee_id__in=attendee_ids) | Q(registration_id__in=registration_ids))
    now = timezone.now()
    scrubbed = 0
    try:
        with transaction.atomic():  # a savepoint: a missing table must not abort the purge
            # Row locks: a worker claiming one of them now waits, then finds it no longer queued.
            waiting = list(
                messages.select_for_update()
                .filter(free_lease(now), status=NotificationLog.Status.QUEUED, provider_id="")
                .values_list("pk", flat=True)
            )
            not_sent = NotificationLog.objects.filter(pk__in=waiting).update(
                status=NotificationLog.Status.SUPPRESSED,
                error=NOT_SENT,
                status_at=now,
                locked_until=None,
                next_attempt_at=None,
            )
            for message in messages.only("pk", "channel", "attendee_id", "subject"):
                rep = replacements.get(message.attendee_id)
                recipient = rep["new"] if rep and message.channel == NotificationLog.Channel.EMAIL else "[removed]"
                NotificationLog.objects.filter(pk=message.pk).update(
                    recipient=recipient, subject=scrub_text(message.subject, replacements), body="", html="", headers={}
                )
                scrubbed += 1
    except DatabaseError:  # the notifications tables are not migrated yet
        return {}
    return {"messages_scrubbed": scrubbed, "messages_not_sent": not_sent}


def scrub_inbox(sender, payment_ids, booking_ids, replacements, **kwargs):
    """WebhookEvent: processed/ignored deliveries about the purged payments and bookings lose
    their raw body and headers (they were applied long ago; the facts are in Payment/Booking)."""
    try:
        from integrations.models import WebhookEvent
    except ImportError:
        return {}
    refs, object_ids = set(), set()
    for row in Payment.objects.filter(pk__in=payment_ids).values(
        "raw_refs", "checkout_session_id", "payment_intent_id", "charge_id"
    ):
        refs.update(row.pop("raw_refs") or [])
        object_ids.update(v for v in row.values() if v)
    for row in Booking.objects.filter(pk__in=booking_ids).values("raw_refs", "acuity_appointment_id"):
        refs.update(row["raw_refs"] or [])
        if row["acuity_appointment_id"]:
            object_ids.add(row["acuity_appointment_id"])
    if not refs and not object_ids:
        return {"webhook_bodies_removed": 0}
    done = (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED)
    scrubbed = 0
    try:
        with transaction.atomic():  # a savepoint: a missing table must not abort the purge
            rows = WebhookEvent.objects.filter(Q(event_id__in=refs) | Q(object_id__in=object_ids), status__in=done)
            for row in rows.only("pk", "result", "last_error"):
                WebhookEvent.objects.filter(pk=row.pk).update(
                    body="",
                    headers={},
                    result=scrub_text(row.result, replacements),
                    last_error=scrub_text(row.last_error, replacements),
                )
                scrubbed += 1
    except DatabaseError:
        return {}
    return {"webhook_bodies_removed": scrubbed}


def connect():
    from registrations.privacy import personal_data_purged

    personal_data_purged.connect(scrub_messages, dispatch_uid="jlf.purge.messages")
    personal_data_purged.connect(scrub_inbox, dispatch_uid="jlf.purge.inbox")
