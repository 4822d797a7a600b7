"""Everything that happened to one registration, oldest first, with who and when: audit rows,
payment / refund / dispute / booking facts, and reminders (notifications.models.NotificationLog,
when that app provides it)."""

from __future__ import annotations

import logging
import zoneinfo
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import FieldError
from django.db.models import Q

from ..models import AuditLog, Registration, Status
from ..money import format_money, from_minor

log = logging.getLogger(__name__)

ACTION_LABELS = {
    "registration.created": "Registration created",
    "registration.status_changed": "Status changed",
    "registration.walk_in": "Walk-in entered",
    "registration.merged": "Merged with another registration",
    "registration.attendee_merged": "Attendee merged with another (same person)",
    "registration.marked_paid": "Marked paid by hand",
    "registration.marked_booked": "Marked booked by hand",
    "registration.seat_assigned": "Seat of a group payment assigned",
    "payment.recorded": "Payment recorded",
    "payment.updated": "Payment updated",
    "payment.matched": "Payment matched",
    "payment.refund_recorded": "Refund recorded",
    "payment.dispute_recorded": "Dispute recorded",
    "payment.merged": "Two records of one payment joined",
    "payment.seat_references_issued": "Seat booking links issued",
    "booking.recorded": "Booking recorded",
    "booking.updated": "Booking updated",
    "booking.matched": "Booking matched",
    "booking.cancelled": "Booking cancelled",
    "booking.rescheduled": "Booking rescheduled",
    "review.opened": "Put in the review queue",
    "review.reopened": "Review item reopened",
    "review.auto_closed": "Review item closed automatically",
    "attendee.alias_learned": "Another email address learned",
    "attendee.created": "Attendee created",
}


@dataclass
class Entry:
    when: datetime | None
    kind: str  # audit | payment | refund | dispute | booking | message
    title: str
    who: str = ""
    detail: str = ""


def _event_tz(name: str):
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _actor(row: AuditLog) -> str:
    if row.actor_user_id:
        return row.actor_user.get_username()
    label = row.get_actor_type_display()
    return f"{label} ({row.actor_source})" if row.actor_source else label


def _status_label(value) -> str:
    """A status as the registrations list shows it ("Paid, not booked"), not its code."""
    try:
        return str(Status(value).label)
    except ValueError:
        return str(value)


def _detail(data, currency: str) -> str:
    """An audit row's data; its amounts are in minor units of ``currency`` (the event's, when
    the row does not say)."""
    if not isinstance(data, dict):
        return ""
    parts = []
    for key, value in data.items():
        if value in (None, "", [], {}):
            continue
        if key in ("amount", "amount_refunded") and isinstance(value, int):
            value = f"{from_minor(value, data.get('currency') or currency):,}"  # audit rows keep minor units
        parts.append(f"{key}: {value}")
    return "; ".join(parts)[:400]


def _notification_entries(reg: Registration) -> list[Entry]:
    """Reminders and messages, from the notifications app (imported only if present, so the
    operator pages never depend on it): each Reminder decision (sent, skipped after the live
    check, …) and each message with its channel, delivery status and provider id."""
    try:
        from notifications.models import NotificationLog, Reminder
    except ImportError:
        return []
    entries = []
    try:
        for r in Reminder.objects.filter(registration=reg).order_by("number")[:50]:
            what = f"Reminder {r.number} ({r.get_missing_display().lower()}): {r.get_status_display().lower()}"
            entries.append(Entry(r.decided_at or r.created_at, "message", what, "System (reminders)", r.note))
        rows = NotificationLog.objects.filter(registration=reg).select_related("reminder").order_by("pk")[:200]
        for m in rows:
            title = f"{m.get_channel_display()} {m.kind.replace('_', ' ')} to {m.recipient}"
            if m.reminder_id:
                title = f"Reminder {m.reminder.number} by {m.get_channel_display().lower()} to {m.recipient}"
            detail = " · ".join(x for x in (m.get_status_display(), m.provider, m.provider_id, m.error[:120]) if x)
            entries.append(Entry(m.sent_at or m.created_at, "message", title, "System (notifications)", detail))
    except (FieldError, AttributeError, ValueError):  # the other app's models changed shape
        log.warning("notifications models not readable for the timeline", exc_info=True)
        return entries
    return entries


def registration_timeline(reg: Registration) -> list[Entry]:
    entries: list[Entry] = []
    payments = list(reg.payments.all())
    bookings = list(reg.bookings.all())
    # Facts are recorded (and audited) before they are matched to a registration, so their
    # first audit rows name the fact, not the registration.
    about = Q(registration=reg)
    for model, rows in (("Payment", payments), ("Booking", bookings)):
        if rows:
            about |= Q(object_type=model, object_id__in=[str(r.pk) for r in rows])
    refunds = [r for p in payments for r in p.refunds.all()]
    disputes = [d for p in payments for d in p.disputes.all()]
    for model, rows in (("Refund", refunds), ("Dispute", disputes)):
        if rows:
            about |= Q(object_type=model, object_id__in=[str(r.pk) for r in rows])
    for row in AuditLog.objects.filter(about).select_related("actor_user").order_by("created_at", "pk"):
        detail = _detail(row.after, reg.event.currency)
        if row.before and row.action == "registration.status_changed":
            detail = f"{_status_label(row.before.get('status'))} → {_status_label((row.after or {}).get('status'))}"
        entries.append(
            Entry(
                row.created_at, "audit", ACTION_LABELS.get(row.action, row.action), _actor(row), row.message or detail
            )
        )
    for p in payments:
        what = f"{p.get_method_display()} payment, {p.get_state_display().lower()}"
        ids = ", ".join(x for x in (p.checkout_session_id, p.payment_intent_id, p.manual_key) if x)
        amount = format_money(p.amount, p.currency)
        when = p.occurred_at or p.created_at
        entries.append(Entry(when, "payment", what, p.get_source_display(), f"{amount} · {ids}"))
        for r in p.refunds.all():
            entries.append(
                Entry(
                    r.occurred_at or r.created_at,
                    "refund",
                    "Refund" + (" (cumulative total)" if r.cumulative else ""),
                    "Stripe",
                    f"{format_money(r.amount, p.currency)} · {r.status} · {r.refund_id}",
                )
            )
        for d in p.disputes.all():
            entries.append(
                Entry(
                    d.status_at or d.created_at,
                    "dispute",
                    "Dispute",
                    "Stripe",
                    f"{format_money(d.amount, p.currency)} · {d.status} · {d.reason}",
                )
            )
    tz = _event_tz(reg.event.timezone)
    for b in bookings:
        when = b.starts_at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if b.starts_at else "no time"
        state = "cancelled" if b.cancelled else ("rescheduled" if b.times_rescheduled else "booked")
        ident = b.acuity_appointment_id or b.manual_key or ""
        entries.append(
            Entry(b.created_at, "booking", f"Booking ({state})", b.get_source_display(), f"for {when} · {ident}")
        )
    entries.extend(_notification_entries(reg))
    entries.sort(key=lambda e: (e.when is None, e.when or datetime.min))
    return entries
