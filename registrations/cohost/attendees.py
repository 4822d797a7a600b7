"""The rows a co-host sees for one event: the page, the CSV export and the digest share them.

Money (amounts paid, refunded, donation sizes, and which money problem an operator is looking
at) is filled in only when the co-host's grant allows it; otherwise the row has no money
attribute values at all, so no template or CSV column can leak it by mistake.

Queries do not grow with the number of registrations: one query for the registrations (with
attendee), one each for their payments, bookings and open review items (prefetch).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from ..models import Booking, Event, Payment, Registration, ReviewItem, Status
from ..money import format_money
from ..search import search_hint, search_registrations

INCOMPLETE = (Status.PAID_ONLY, Status.BOOKED_ONLY, Status.PENDING, Status.NEEDS_REVIEW)
# Not coming (any more): counted apart, so registered = complete + incomplete + these.
CANCELLED_OR_REFUNDED = (Status.CANCELLED, Status.REFUNDED)
# Review kinds that are about money: their names are shown only to co-hosts who may see money.
MONEY_REVIEW_KINDS = {
    ReviewItem.Kind.GROUP_PAYMENT,
    ReviewItem.Kind.DUPLICATE_PAYMENT,
    ReviewItem.Kind.DISPUTE,
    ReviewItem.Kind.PAID_CANCELLED,
    ReviewItem.Kind.PAYMENT_NOT_CLEARED,
    ReviewItem.Kind.REFUND_FAILED,
}


def event_zone(event: Event):
    try:
        return zoneinfo.ZoneInfo(event.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.get_default_timezone()


def local_time(value: datetime | None, event: Event) -> str:
    if value is None:
        return ""
    return timezone.localtime(value, event_zone(event)).strftime("%a %d %b %Y, %H:%M %Z")


@dataclass
class AttendeeRow:
    reference: str
    name: str
    email: str
    phone: str
    status: str
    status_label: str
    incomplete: bool
    missing: list[str]
    booked_for: str
    booking_note: str
    registered_at: str
    seats: int
    intake: list[tuple[str, str]] = field(default_factory=list)
    # Money: None unless the co-host may see money for this event.
    paid: str | None = None
    refunded: str | None = None
    # Why a search found this row, when not by the current name, address or number.
    matched: str = ""

    @property
    def missing_text(self) -> str:
        return "; ".join(self.missing)


def registrations_for(event: Event, *, show: str = "all", q: str = "") -> QuerySet:
    qs = (
        Registration.objects.filter(event=event)
        .select_related("attendee")
        .prefetch_related(
            Prefetch("payments", queryset=Payment.objects.order_by("pk")),
            Prefetch("bookings", queryset=Booking.objects.order_by("starts_at", "pk")),
            Prefetch(
                "review_items",
                queryset=ReviewItem.objects.filter(state=ReviewItem.State.OPEN).order_by("pk"),
                to_attr="open_review_items",
            ),
            # The other half of a pair (e.g. the one who booked, of a "same person?" case).
            Prefetch(
                "counterpart_review_items",
                queryset=ReviewItem.objects.filter(state=ReviewItem.State.OPEN).order_by("pk"),
                to_attr="open_counterpart_review_items",
            ),
        )
        .order_by("attendee__name", "attendee__email", "pk")
    )
    if show == "incomplete":
        qs = qs.filter(status__in=INCOMPLETE)
    # Name, address (also one used before a merge), phone in any format (also one used before
    # a merge), reference; a row found by an earlier one says so (``AttendeeRow.matched``).
    return search_registrations(qs, q)


def status_counts(event: Event) -> dict:
    incomplete = Q(registrations__status__in=INCOMPLETE)
    return Event.objects.filter(pk=event.pk).aggregate(
        total=Count("registrations"),
        complete=Count("registrations", filter=Q(registrations__status=Status.COMPLETE)),
        incomplete=Count("registrations", filter=incomplete),
        cancelled=Count("registrations", filter=Q(registrations__status__in=CANCELLED_OR_REFUNDED)),
    )


def _missing(reg: Registration, event: Event, paid: bool, booked: bool, can_see_money: bool) -> list[str]:
    if reg.status not in INCOMPLETE:
        return []
    missing = []
    payments = list(reg.payments.all())
    if not booked:
        missing.append("booking a place (Acuity)")
    if not paid and not event.is_donation:
        if any(p.state == Payment.State.UNPAID for p in payments):
            missing.append("payment (still processing)")
        else:
            missing.append("payment (Stripe)")
    if reg.status == Status.NEEDS_REVIEW:
        items = reg.open_review_items + getattr(reg, "open_counterpart_review_items", [])
        kinds = [i.get_kind_display() for i in items if can_see_money or i.kind not in MONEY_REVIEW_KINDS]
        hidden = not can_see_money and any(i.kind in MONEY_REVIEW_KINDS for i in items)
        detail = ", ".join(dict.fromkeys(kinds))
        if hidden:
            detail = ", ".join(filter(None, [detail, "a payment question"]))
        missing.append(f"being checked by the organisers ({detail})" if detail else "being checked by the organisers")
    return missing


def _intake(reg: Registration, booking: Booking | None) -> list[tuple[str, str]]:
    if booking is None:
        return []
    hidden = {reg.reference, booking.intake_reference} - {""}
    out = []
    for label, value in (booking.intake or {}).items():
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        value = "" if value is None else str(value)
        if value.strip() and value.strip() not in hidden:
            out.append((str(label), value))
    return out


def build_row(reg: Registration, event: Event, can_see_money: bool) -> AttendeeRow:
    payments = list(reg.payments.all())
    bookings = list(reg.bookings.all())
    live = [b for b in bookings if not b.cancelled]
    booking = live[-1] if live else (bookings[-1] if bookings else None)
    paid_payments = [p for p in payments if p.is_paid]
    paid = any(not p.fully_refunded for p in paid_payments)
    note = ""
    if booking is not None:
        if booking.cancelled:
            note = "cancelled"
        elif booking.times_rescheduled:
            note = "rescheduled"
    row = AttendeeRow(
        reference=reg.reference,
        name=reg.attendee.name or (booking.name if booking else ""),
        email=reg.attendee.email,
        phone=reg.attendee.phone or (booking.phone if booking else ""),
        status=reg.status,
        status_label=reg.get_status_display(),
        incomplete=reg.status in INCOMPLETE,
        missing=_missing(reg, event, paid, bool(live), can_see_money),
        booked_for=local_time(booking.starts_at if booking else None, event),
        booking_note=note,
        registered_at=local_time(reg.created_at, event),
        seats=reg.seats,
        intake=_intake(reg, booking),
        matched=search_hint(reg),
    )
    if can_see_money:
        currency = next((p.currency for p in paid_payments if p.currency), event.currency)
        row.paid = format_money(sum(p.amount or 0 for p in paid_payments), currency)
        row.refunded = format_money(sum(p.amount_refunded for p in paid_payments), currency)
    return row


def build_rows(registrations, event: Event, can_see_money: bool) -> list[AttendeeRow]:
    return [build_row(reg, event, can_see_money) for reg in registrations]
