"""Booking facts from Acuity (and operators): the newest observation wins, cancellation sticks."""

from __future__ import annotations

import logging

from . import seats
from .audit import SYSTEM, Actor, audit
from .engine import _EPOCH, ApplyResult, _batched, _retrying, recompute
from .identity import normalise_phone, split_emails
from .matching import (
    _flag_unmatched,
    _merge_keys,
    _registration_for,
    is_reference,
    resolve_event,
)
from .models import (
    Booking,
    Registration,
    Source,
)
from .signals import BookingSignal

log = logging.getLogger(__name__)

BOOKING_STATUS_RANK = {"booked": 0, "rescheduled": 1, "cancelled": 2}


# --- Bookings ----------------------------------------------------------------------------------
def _booking_observation_key(signal: BookingSignal):
    return (
        signal.occurred_at or _EPOCH,
        BOOKING_STATUS_RANK.get(signal.status, 0),
        signal.starts_at.isoformat() if signal.starts_at else "",
    )


def _split_tiebreak(value: str):
    rank, _, starts = (value or "0|").partition("|")
    return int(rank or 0), starts


def reference_in(signal: BookingSignal) -> str:
    """Our registration reference, if the attendee typed it into an intake form field."""
    for value in list(signal.intake_by_field_id.values()) + list(signal.intake.values()):
        value = str(value or "").strip()
        if is_reference(value):
            return value
    return ""


def observed_values(signal: BookingSignal) -> dict:
    """The booking's fields as this observation of the appointment says they are (the newest
    observation sets them all). Also what reconciliation compares with the stored booking."""
    emails = split_emails(signal.email)
    return {
        "email": emails[0] if emails else "",
        "other_emails": emails[1:],
        "first_name": signal.first_name,
        "last_name": signal.last_name,
        "phone": normalise_phone(signal.phone),
        "starts_at": signal.starts_at,
        "timezone": signal.timezone,
        "calendar_id": str(signal.calendar_id or ""),
        "appointment_type_id": str(signal.appointment_type_id or ""),
        "intake": dict(signal.intake),
    }


def apply_booking(signal: BookingSignal, actor: Actor = SYSTEM, source: str = Source.WEBHOOK) -> ApplyResult:
    """Apply what Acuity (or an operator) says an appointment looks like. Safe to repeat."""
    if signal.status not in BOOKING_STATUS_RANK:
        raise ValueError(f"unknown booking signal status {signal.status!r}")

    def run():
        booking = Booking.objects.select_for_update().filter(acuity_appointment_id=str(signal.source_id)).first()
        created = booking is None
        if created:
            # Inserted once, below, with every field. Two deliveries racing to create it: the
            # loser's INSERT fails on the unique id and ``_retrying`` runs it again as an update.
            booking = Booking(acuity_appointment_id=str(signal.source_id), source=source)
        changed = []
        incoming = _booking_observation_key(signal)
        current = (booking.state_at or _EPOCH, *_split_tiebreak(booking.state_tiebreak))
        if created or incoming > current or booking.state_at is None:
            values = {
                **observed_values(signal),
                "state_at": signal.occurred_at or _EPOCH,
                "state_tiebreak": f"{incoming[1]}|{incoming[2]}",
            }
            ref = reference_in(signal)
            if ref:
                values["intake_reference"] = ref
            if booking.personal_data_removed_at:  # purged: its contact details and answers stay removed
                values = {k: v for k, v in values.items() if k not in Booking.PERSONAL_FIELDS}
            for attr, value in values.items():
                if getattr(booking, attr) != value:
                    setattr(booking, attr, value)
                    if attr not in ("state_at", "state_tiebreak"):
                        changed.append(attr)
        if signal.status == "cancelled" and not booking.cancelled:
            booking.cancelled = True
            changed.append("cancelled")
        if signal.starts_at:
            seen = sorted(set(booking.start_times_seen) | {signal.starts_at.isoformat()})
            if seen != booking.start_times_seen:
                booking.start_times_seen = seen
        keys = _merge_keys(booking.mapping_keys, signal.event_keys)
        if keys != booking.mapping_keys:
            booking.mapping_keys = keys
            changed.append("mapping_keys")
        if signal.raw_ref and signal.raw_ref not in booking.raw_refs:
            booking.raw_refs = sorted(set(booking.raw_refs) | {signal.raw_ref})
        if created:
            changed = []  # inserted once it is attached (``_finish_booking``), in one statement
        else:
            booking.save()
        result = ApplyResult(fact=booking, created=created, changed=changed)
        recorded = None
        if created or changed:
            action = (
                "booking.recorded"
                if created
                else (
                    "booking.cancelled"
                    if "cancelled" in changed
                    else "booking.rescheduled"
                    if "starts_at" in changed
                    else "booking.updated"
                )
            )
            recorded = audit(
                action,
                actor=actor,
                registration=booking.registration,
                obj=booking,
                after={
                    "appointment": booking.acuity_appointment_id,
                    "starts_at": booking.starts_at.isoformat() if booking.starts_at else None,
                    "cancelled": booking.cancelled,
                    "changed": changed,
                },
            )
        if not created and not changed and booking.registration_id:
            # A redelivery or an unchanged observation: nothing to recompute.
            result.registration = booking.registration
            result.status_before = result.status_after = result.registration.status
            return result
        _finish_booking(booking, actor, result, source, recorded if created else None)
        return result

    return _retrying(lambda: _batched(run))


def _attach_booking(booking: Booking, actor: Actor, source: str) -> tuple[Registration | None, bool]:
    fields = []  # saved in one UPDATE at the end
    if booking.event_id is None:
        event, ignored = resolve_event(booking.mapping_keys)
        if event is None:
            if not ignored:
                _flag_unmatched(booking, actor)
            return None, not ignored
        booking.event = event
        fields.append("event")
    reg = booking.registration if booking.registration_id else None
    if reg is None:
        emails = ([booking.email] if booking.email else []) + list(booking.other_emails)
        reg = _registration_for(
            booking.event, emails, booking.intake_reference, booking.name, booking.phone, source, actor
        )
        if reg is not None:
            booking.registration = reg
            fields.append("registration")
    if booking._state.adding:
        booking.save()  # a new booking: one INSERT with its event and registration
    elif fields:
        booking.save(update_fields=[*fields, "updated_at"])
    if "registration" in fields:
        audit(
            "booking.matched",
            actor=actor,
            registration=reg,
            obj=booking,
            after={
                "booking": str(booking),
                "by": "reference" if reg.reference == booking.intake_reference else "email",
            },
        )
    return reg, False


def _finish_booking(booking: Booking, actor: Actor, result: ApplyResult, source: str, recorded=None):
    """Event and registration, seats, derived status. A new booking is inserted here, at the
    latest after it is attached; ``recorded`` (its audit row, still unsent) gets its id then."""
    reg, unmatched = _attach_booking(booking, actor, source)
    if booking._state.adding:  # no event for it (yet): insert it as it is
        booking.save()
    if recorded is not None:
        recorded.object_id = str(booking.pk)
    result.unmatched_event = unmatched
    result.registration = reg
    if reg is not None:
        # A booking made with a group seat's link takes that seat (see registrations.seats).
        others = seats.after_booking(booking, reg, actor)
        result.status_before = reg.status
        # A registration created just now for this booking has no other facts, unless the
        # booking carried a reference (a seat link gives it the seat's payment).
        new = getattr(reg, "new_in_transaction", False) and not booking.intake_reference
        result.status_after = recompute(reg, actor, new_with=([], [booking]) if new else None)
        for other in others:
            recompute(other, actor)
