"""Registration exports: one definition of the columns and rows, used by the operator UI (CSV and
XLSX) and by ``manage.py export_registrations`` (CSV and JSON), so every export has the same
columns in the same order.

Columns: the registration and attendee, its status, both sides' facts (Stripe payments and
refunds; Acuity bookings), manual reasons, why a search found the row ("matched an earlier
address: …", when the export is filtered by a search that found it only by an address or number
used before a merge; empty otherwise), then one column per intake-form question (the union of
the questions answered on the exported registrations, alphabetical, prefixed "Intake: ").
Money is a Decimal in currency units (net of the per-seat facts of group payments, which are 0);
times are ISO 8601 in the event's time zone.
"""

from __future__ import annotations

import csv
import re
import zoneinfo
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.db.models import QuerySet

from .models import Booking, Event, Payment, Registration
from .money import from_minor
from .search import SEARCH_HINT_COLUMN, search_hint

BASE_COLUMNS = [
    "Reference",
    "Event",
    "Event starts",
    "Name",
    "Email",
    "Other emails",
    "Phone",
    "Status",
    "Source",
    "Paid",
    "Refunded",
    "Net",
    "Currency",
    "Payment methods",
    "Paid at",
    "Stripe payment intents",
    "Disputed",
    "Group seats",
    "Booked",
    "Appointment starts",
    "Booking cancelled",
    "Acuity appointment ids",
    "Times rescheduled",
    "Manual paid reason",
    "Manual booked reason",
    "Registered at",
    "Status changed at",
    SEARCH_HINT_COLUMN,
]
INTAKE_PREFIX = "Intake: "


def _registrations(event: Event | None) -> QuerySet:
    qs = Registration.objects.all()
    return qs.filter(event=event) if event is not None else qs


def intake_labels(queryset: QuerySet) -> list[str]:
    """The union of intake questions answered on the bookings of these registrations."""
    labels: set[str] = set()
    for intake in Booking.objects.filter(registration__in=queryset.values("pk")).values_list("intake", flat=True):
        if isinstance(intake, dict):
            labels.update(str(k) for k in intake)
    return sorted(labels, key=str.casefold)


def export_columns(event: Event | None, queryset: QuerySet | None = None) -> list[str]:
    """The header row for an export of ``event`` (None: every event). Pass ``queryset`` when the
    rows are a filtered subset, so the intake columns match the rows."""
    qs = queryset if queryset is not None else _registrations(event)
    return BASE_COLUMNS + [INTAKE_PREFIX + label for label in intake_labels(qs)]


def _local(dt, tz):
    if dt is None:
        return ""
    return dt.astimezone(tz).isoformat(timespec="minutes")


def _units(amount: int, currency: str) -> Decimal:
    return from_minor(amount, currency)


def _tz(name: str):
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def export_row(reg: Registration, labels: list[str], payments=None, bookings=None) -> list:
    """One registration as a list of values. ``payments`` / ``bookings``: its facts, when the
    caller loaded them in bulk (otherwise they are read from the registration)."""
    event = reg.event
    tz = _tz(event.timezone)
    payments = [p for p in (reg.payments.all() if payments is None else payments) if p.is_paid]
    money = [p for p in payments if p.method != Payment.Method.GROUP_SEAT]
    seats = [p for p in payments if p.method == Payment.Method.GROUP_SEAT]
    bookings = sorted(
        reg.bookings.all() if bookings is None else bookings, key=lambda b: (b.state_at or b.created_at, b.pk)
    )
    live = [b for b in bookings if not b.cancelled]
    current = live[-1] if live else (bookings[-1] if bookings else None)
    paid = sum(p.amount or 0 for p in money)
    refunded = sum(p.amount_refunded for p in money)
    currency = next((p.currency for p in money if p.currency), event.currency)
    first_paid = min((p.occurred_at or p.created_at for p in payments), default=None)
    other_emails = sorted({e for b in bookings for e in b.other_emails})
    intake = current.intake if current is not None and isinstance(current.intake, dict) else {}
    row = [
        reg.reference,
        event.name,
        _local(event.starts_at, tz),
        reg.attendee.name,
        reg.attendee.email,
        ", ".join(other_emails),
        reg.attendee.phone,
        reg.get_status_display(),
        reg.get_source_display(),
        _units(paid, currency),
        _units(refunded, currency),
        _units(paid - refunded, currency),
        currency.upper(),
        ", ".join(sorted({p.get_method_display() for p in payments})),
        _local(first_paid, tz),
        ", ".join(p.payment_intent_id for p in money if p.payment_intent_id),
        "yes" if any(p.disputed for p in money) else "no",
        ", ".join(p.note for p in seats),
        "yes" if live else "no",
        _local(current.starts_at, tz) if current is not None else "",
        "yes" if bookings and not live else "no",
        ", ".join(b.acuity_appointment_id for b in bookings if b.acuity_appointment_id),
        sum(b.times_rescheduled for b in bookings),
        reg.manual_paid_reason,
        reg.manual_booked_reason,
        _local(reg.created_at, tz),
        _local(reg.status_changed_at, tz),
        # Why a search found the row, when not by its current details (an address or number used
        # before a merge); empty otherwise, and in an export with no search.
        search_hint(reg),
    ]
    row.extend("" if intake.get(label) is None else str(intake.get(label)) for label in labels)
    return row


_PAYMENT_FIELDS = (
    "registration_id",
    "state",
    "method",
    "amount",
    "amount_refunded",
    "currency",
    "occurred_at",
    "created_at",
    "payment_intent_id",
    "disputed",
    "note",
)
_BOOKING_FIELDS = (
    "registration_id",
    "state_at",
    "created_at",
    "cancelled",
    "other_emails",
    "intake",
    "starts_at",
    "acuity_appointment_id",
    "start_times_seen",
)
# Only what a row shows: every datetime column read costs parsing time on 5,000 rows.
_REGISTRATION_FIELDS = (
    "reference",
    "status",
    "source",
    "manual_paid_reason",
    "manual_booked_reason",
    "created_at",
    "status_changed_at",
    "attendee__name",
    "attendee__email",
    "attendee__phone",
    "event__name",
    "event__starts_at",
    "event__timezone",
    "event__currency",
)
CHUNK = 1000


def export_rows(queryset: QuerySet, labels: list[str] | None = None) -> Iterator[list]:
    """Rows for ``queryset`` (any Registration queryset), aligned with ``export_columns``.

    Streams in chunks of 1,000 registrations, each with one query for its payments and one for
    its bookings (plain ``prefetch_related`` costs several times more CPU per row), so memory
    and the number of queries stay proportional to the chunks, not to every row at once."""
    if labels is None:
        labels = intake_labels(queryset)
    qs = (
        queryset.select_related("attendee", "event")
        .only(*_REGISTRATION_FIELDS)
        .order_by("event__starts_at", "event_id", "attendee__name", "attendee__email", "pk")
    )
    chunk: list[Registration] = []
    for reg in qs.iterator(chunk_size=CHUNK):
        chunk.append(reg)
        if len(chunk) == CHUNK:
            yield from _rows_for(chunk, labels)
            chunk = []
    if chunk:
        yield from _rows_for(chunk, labels)


def _rows_for(regs: list[Registration], labels: list[str]) -> Iterator[list]:
    ids = [r.pk for r in regs]
    payments: dict[int, list] = {}
    for p in Payment.objects.filter(registration_id__in=ids).only(*_PAYMENT_FIELDS).order_by("pk"):
        payments.setdefault(p.registration_id, []).append(p)
    bookings: dict[int, list] = {}
    for b in Booking.objects.filter(registration_id__in=ids).only(*_BOOKING_FIELDS).order_by("pk"):
        bookings.setdefault(b.registration_id, []).append(b)
    for reg in regs:
        yield export_row(reg, labels, payments.get(reg.pk, []), bookings.get(reg.pk, []))


# --- Writers --------------------------------------------------------------------------------------
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?[0-9][0-9 .]*$")
# Control characters other than tab and line breaks: XLSX cannot hold them (openpyxl raises) and a
# CSV shows them as junk. Word's line break (vertical tab) arrives in pasted intake answers.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def cell_safe(value):
    """Spreadsheet formula injection guard: a text cell an attendee typed (name, intake answer)
    that starts like a formula is prefixed with ' so Excel/LibreOffice show it as text.
    Phone numbers and plain numbers are left alone. Control characters are dropped."""
    if isinstance(value, str):
        value = _CONTROL.sub("", value)
        if value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(value):
            return "'" + value
    return value


def write_csv(out, columns: list[str], rows: Iterable[list]) -> None:
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell_safe(v) for v in row])


def rows_as_dicts(columns: list[str], rows: Iterable[list]) -> Iterator[dict]:
    for row in rows:
        yield dict(zip(columns, row, strict=True))
