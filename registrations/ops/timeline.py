"""Everything that happened to one registration, oldest first, with who and when: audit rows,
payment / refund / dispute / booking facts, and reminders (notifications.models.NotificationLog,
when that app provides it)."""

from __future__ import annotations

import logging
import re
import zoneinfo
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import FieldError
from django.db.models import Q

from ..models import AuditLog, Payment, Registration, ReviewItem, Source, Status
from ..seats import parse_seat_key
from ..templatetags.ops_format import card_text, money

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
    "registration.seat_declined": "Seat link not used: already holds a seat of that group",
    "payment.recorded": "Payment recorded",
    "payment.updated": "Payment updated",
    "payment.matched": "Payment matched",
    "payment.refund_recorded": "Refund recorded",
    "payment.dispute_recorded": "Dispute recorded",
    "payment.merged": "Two records of one payment joined",
    "payment.seat_references_issued": "Seat booking links issued",
    "payment.seats_taken_over": "Paid again: seats of the failed group payment moved to the new one",
    "payment.seats_counted": "Seats counted from the checkout",
    "booking.recorded": "Booking recorded",
    "booking.updated": "Booking updated",
    "booking.matched": "Booking matched",
    "booking.cancelled": "Booking cancelled",
    "booking.rescheduled": "Booking rescheduled",
    "review.opened": "Put in the review queue",
    "review.reopened": "Review item reopened",
    "review.updated": "Review item updated",
    "review.auto_closed": "Review item closed automatically",
    "attendee.alias_learned": "Another email address learned",
    "attendee.created": "Attendee created",
    "attendee.opted_out": "Reminders stopped",
}
# An operator's decision on a queue card ("review.resolved.<resolution>", resolutions.close_item),
# in the words of the card's choice; an unknown one reads its code with spaces.
RESOLUTION_WORDS = {
    "kept": "both kept",
    "kept_as_credit": "kept as credit",
    "remind_to_pay": "remind them to pay",
    "mapped": "mapped to an event",
    "ignored": "not ours",
}


def resolution_in_words(resolution: str) -> str:
    """A card's resolution code as the card named the choice ("not ours", "both kept")."""
    return RESOLUTION_WORDS.get(resolution, resolution.replace("_", " "))


def action_label(action: str) -> str:
    """An audit row's action in words: "Review item resolved: kept as credit", not its code."""
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    if action.startswith("review.resolved."):
        resolution = action.removeprefix("review.resolved.")
        words = resolution_in_words(resolution)
        return f"Review item {'dismissed' if resolution == 'dismissed' else 'resolved: ' + words}"
    return action


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


# What an audit row's data keys mean, in the operator's words (the order is the order shown).
DETAIL_LABELS = {
    "payment": "Payment",
    "group_payment": "Group payment",
    "failed_payment": "Failed group payment",
    "moved": "Seats moved",
    "booking": "Booking",
    "appointment": "Appointment",
    "refund": "Refund",
    "dispute": "Dispute",
    "registration": "Registration",
    "reference": "Reference",
    "kept": "Kept",
    "folded": "Folded into it",
    "belongs to": "Belongs to",
    "kind": "Review item",
    "key": "Review item",
    "state": "Payment state",
    "status": "Status",
    "amount": "Amount",
    "amount_refunded": "Amount refunded",
    "currency": "Currency",
    "method": "Method",
    "starts_at": "Appointment time",
    "cancelled": "Cancelled",
    "seat": "Seat",
    "seats": "Seats in the group",
    "seats_now": "Seats the payment reads as now",
    "seats_counted": "Seats",
    "seats_kept": "Seats kept",
    "counted": "Counted as seats",
    "left_out": "Not seats",
    "unsure": "Several products counted, none of their prices mapped to this event",
    "holds": "Already holds seat",
    "issued": "Links issued for seats",
    "payer": "Paid by",
    "attendee": "Attendee",
    "alias": "Other email address",
    "email": "Email",
    "other_emails": "Other email addresses",
    "name": "Name",
    "first_name": "First name",
    "last_name": "Last name",
    "phone": "Phone",
    "source": "Came in by",
    "by": "By",
    "payment_known": "Payment known",
    "refunded_with_group": "Refunded with the group payment",
    "opt_outs_carried": "Opt-outs carried over",
    "manual_key": "Seat",
    "checkout_session_id": "Checkout session",
    "payment_intent_id": "Payment intent",
    "charge_id": "Charge",
    "quantity": "Quantity",
    "client_reference_id": "Reference on the payment",
    "livemode": "Live mode",
    "mapping_keys": "Matched by",
    "occurred_at": "Time of payment",
    "disputed": "Disputed",
    "timezone": "Attendee's time zone",
    "calendar_id": "Calendar",
    "appointment_type_id": "Appointment type",
    "intake": "Intake form answers",
    "intake_reference": "Reference on the booking",
    "email_opt_out": "Email reminders stopped",
    "sms_opt_out": "Text reminders stopped",
    "changed": "Changed",
    "why": "Why",
    "explanation": "Why",
    "because": "Because",
    "reason": "Reason",
    "note": "Note",
}
_ORDER = {key: n for n, key in enumerate(DETAIL_LABELS)}
# False says nothing worth reading for these (a booking that is not cancelled): left out.
_OMIT_WHEN_FALSE = {"cancelled", "livemode", "disputed", "unsure"}
_BY = {
    "reference": "their reference",
    "email": "their email address",
    "operator": "an operator",
    "seat reference": "the seat's booking link",
}
_REVIEW_KEY_KINDS = {
    "group": ReviewItem.Kind.GROUP_PAYMENT,
    "duplicate": ReviewItem.Kind.DUPLICATE_PAYMENT,
    "dispute": ReviewItem.Kind.DISPUTE,
    "paid_cancelled": ReviewItem.Kind.PAID_CANCELLED,
    "match": ReviewItem.Kind.SUGGESTED_MATCH,
    "not_cleared": ReviewItem.Kind.PAYMENT_NOT_CLEARED,
    "unmatched": ReviewItem.Kind.UNMATCHED_EVENT,
    "same_person": ReviewItem.Kind.SAME_PERSON_TWICE,
    "refund_failed": ReviewItem.Kind.REFUND_FAILED,
}
_CHOICES = {
    "state": Payment.State,
    "method": Payment.Method,
    "source": Source,
    "kind": ReviewItem.Kind,
}
# What a fact's mapping keys ([kind, value] from the provider) are, in the operator's words.
_MAPPING_KINDS = {
    "stripe_payment_link": "payment link",
    "stripe_price": "Stripe price",
    "stripe_metadata": "Stripe metadata",
    "acuity_appointment_type": "Acuity appointment type",
}
_WALKIN_KEY = re.compile(r"walkin:(\d+):(\d+(?:\.\d+)?)")  # registrations.services.enter_walk_in
_TIME_KEYS = {"starts_at", "occurred_at"}
_MONEY_KEYS = {"amount", "amount_refunded"}


def mapping_words(keys) -> str:
    """A fact's mapping keys as words: "payment link plink_…, Stripe price price_…"."""
    words = []
    for pair in keys or []:
        if isinstance(pair, (list, tuple)) and len(pair) == 2:
            kind, value = pair
            words.append(f"{_MAPPING_KINDS.get(str(kind), str(kind).replace('_', ' '))} {value}")
        else:
            words.append(str(pair))
    return ", ".join(words)


def seat_words(key: str, payers: dict[int, str] | None = None) -> str:
    """A seat's internal key ``seat:<group payment pk>:<seat>`` as "seat 3 of payment #12", with
    ", paid by <payer>" when ``payers`` names the group payment's payer. Other keys as they are."""
    seat = parse_seat_key(key)
    if not seat:
        return key
    payer = (payers or {}).get(seat[0])
    return f"seat {seat[1]} of payment #{seat[0]}" + (f", paid by {payer}" if payer else "")


def key_words(key: str, payers: dict[int, str] | None = None, tz=None, what: str = "payment") -> str:
    """A fact's internal key as words: a seat as ``seat_words``; a walk-in's
    ``walkin:<registration>:<unix time>`` as "walk-in payment entered 3 Dec 2026 18:05:09 PST"
    (``what``: "payment" or "booking"; the time to the second, in ``tz``, the event's zone)."""
    walk = _WALKIN_KEY.fullmatch(key or "")
    if not walk:
        return seat_words(key, payers)
    try:
        moment = datetime.fromtimestamp(float(walk[2]), tz=zoneinfo.ZoneInfo("UTC"))
    except (ValueError, OverflowError, OSError):
        return key
    local = moment.astimezone(tz or zoneinfo.ZoneInfo("UTC"))
    return f"walk-in {what} entered {local.day} {local:%b %Y %H:%M:%S %Z}"


def _seat_payers(keys) -> dict[int, str]:
    """For the group payments named by these seat keys: payment pk → the payer's name (or email)."""
    pks = {seat[0] for seat in map(parse_seat_key, keys) if seat}
    if not pks:
        return {}
    rows = Payment.objects.filter(pk__in=pks).values_list(
        "pk", "registration__attendee__name", "registration__attendee__email", "name", "email"
    )
    return {pk: (a_name or a_email or name or email or "") for pk, a_name, a_email, name, email in rows}


def _label(key: str) -> str:
    return DETAIL_LABELS.get(key) or str(key).replace("_", " ").strip().capitalize()


def format_time(value: datetime, tz) -> str:
    """A moment as the history shows its entries' times: "15 Dec 2026 10:00 PST" (the event's zone)."""
    local = value.astimezone(tz)
    return f"{local.day} {local:%b %Y %H:%M %Z}"


def _words(key: str, value, currency: str, tz) -> str:
    """One value of an audit row, as an operator reads it."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key in _MONEY_KEYS and isinstance(value, int):
        return money(value, currency)  # audit rows keep minor units; shown as the page does ("$120.00")
    if key in _TIME_KEYS and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return format_time(moment, tz) if moment.tzinfo else value
    if key == "changed" and isinstance(value, list):
        return ", ".join(_label(str(v)) for v in value)
    if key in _CHOICES and isinstance(value, str):
        try:
            return str(_CHOICES[key](value).label)
        except ValueError:
            return value.replace("_", " ")
    if key == "key" and isinstance(value, str):
        kind = _REVIEW_KEY_KINDS.get(value.split(":", 1)[0])
        return str(kind.label) if kind else value
    if key == "failure_reason" and isinstance(value, str):
        return value.replace("_", " ")  # Stripe's code ("lost_or_stolen_card"), as the refund's line reads it
    if key == "by" and isinstance(value, str):
        return _BY.get(value, value)
    if key == "status" and isinstance(value, str):
        return _status_label(value).replace("_", " ")  # a registration's status, or Stripe's word
    if key in ("payment", "group_payment", "kept", "folded", "booking") and isinstance(value, str):
        what = "booking" if key == "booking" or value.startswith("Booking ") else "payment"
        value = re.sub(r"^(Payment|Booking) ", "", value)  # str(fact) names it: "Payment cs_…"
        return key_words(value, tz=tz, what=what)  # a seat or a walk-in is named by its internal key
    if key == "manual_key" and isinstance(value, str):
        seat = parse_seat_key(value)
        return f"{seat[1]} of group payment #{seat[0]}" if seat else key_words(value, tz=tz)
    if key == "mapping_keys" and isinstance(value, list):
        return mapping_words(value)
    if key == "opt_outs_carried" and isinstance(value, list):
        return ", ".join({"email_opt_out": "email", "sms_opt_out": "text messages"}.get(v, str(v)) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{_label(str(k))} {v}" for k, v in value.items() if v not in (None, "", [], {}))
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _detail(data, currency: str, tz=None, action: str = "") -> str:
    """An audit row's data in plain words ("Appointment time: 15 Dec 2026 10:00 PST; Changed:
    Appointment time"): its amounts are in minor units of ``currency`` (the event's, when the row
    does not say), its times are shown in ``tz`` (the event's zone) with the zone named, and its
    money as the page shows it: "$120.00", also inside a stored text ("paid 120.00 USD" reads
    "paid $120.00", ``card_text``; the row itself is not rewritten)."""
    if not isinstance(data, dict):
        return ""
    tz = tz or zoneinfo.ZoneInfo("UTC")
    money_currency = data.get("currency") or currency
    parts = []
    keys = sorted(data, key=lambda k: (_ORDER.get(k, len(_ORDER) - 6), str(k)))
    for key in keys:
        value = data[key]
        if value in (None, "", [], {}) or (value is False and key in _OMIT_WHEN_FALSE):
            continue
        if key == "key" and "kind" in data:  # the review item's internal key says no more than its kind
            continue
        if key == "currency" and any(k in data for k in _MONEY_KEYS):
            continue  # every amount already says its currency
        label = "Details received" if key == "changed" and action.endswith(".recorded") else _label(key)
        parts.append(f"{label}: {_words(key, value, money_currency, tz)}")
    text = card_text("; ".join(parts))
    # Cut where a word ends, and say so: a line that stopped mid-word read as the whole of it.
    return text if len(text) <= 400 else text[:399].rsplit(" ", 1)[0].rstrip(" ;,:(") + " …"


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
    tz = _event_tz(reg.event.timezone)
    for row in AuditLog.objects.filter(about).select_related("actor_user").order_by("created_at", "pk"):
        detail = _detail(row.after, reg.event.currency, tz, row.action)
        if row.before and row.action == "registration.status_changed":
            detail = f"{_status_label(row.before.get('status'))} → {_status_label((row.after or {}).get('status'))}"
        detail = card_text(row.message) if row.message else detail  # as stored, in the page's formats
        entries.append(Entry(row.created_at, "audit", action_label(row.action), _actor(row), detail))
    payers = _seat_payers(p.manual_key for p in payments)
    for p in payments:
        what = f"{p.get_method_display()} payment, {p.get_state_display().lower()}"
        ids = ", ".join(
            x for x in (p.checkout_session_id, p.payment_intent_id, key_words(p.manual_key, payers, tz)) if x
        )
        amount = money(p.amount, p.currency)
        when = p.occurred_at or p.created_at
        detail = " · ".join(x for x in (amount, ids) if x)
        if p.mapping_keys:
            detail += f" · Matched by: {mapping_words(p.mapping_keys)}"
        entries.append(Entry(when, "payment", what, p.get_source_display(), detail))
        for r in p.refunds.all():
            entries.append(
                Entry(
                    r.occurred_at or r.created_at,
                    "refund",
                    "Refund" + (" (cumulative total)" if r.cumulative else ""),
                    "Stripe",
                    f"{money(r.amount, p.currency)} · {r.status}"
                    # Why Stripe failed it (its ``failure_reason`` code, in words).
                    + (f" ({r.failure_reason.replace('_', ' ')})" if r.failure_reason else "")
                    + f" · {r.refund_id}",
                )
            )
        for d in p.disputes.all():
            said = " · ".join(x for x in (d.status, d.reason) if x).replace("_", " ")  # Stripe's codes
            entries.append(
                Entry(
                    d.status_at or d.created_at,
                    "dispute",
                    "Dispute",
                    "Stripe",
                    f"{money(d.amount, p.currency)} · {said}" if said else money(d.amount, p.currency),
                )
            )
    for b in bookings:
        when = format_time(b.starts_at, tz) if b.starts_at else "no time"
        state = "cancelled" if b.cancelled else ("rescheduled" if b.times_rescheduled else "booked")
        ident = b.acuity_appointment_id or key_words(b.manual_key or "", tz=tz, what="booking")
        entries.append(
            Entry(b.created_at, "booking", f"Booking ({state})", b.get_source_display(), f"for {when} · {ident}")
        )
    entries.extend(_notification_entries(reg))
    entries.sort(key=lambda e: (e.when is None, e.when or datetime.min))
    return entries
