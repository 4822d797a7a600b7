"""The only writers of payment and booking facts.

Every provider message, reconciliation record, handoff redirect, walk-in and demo record arrives
here as a signal. Each function:

1. runs in a transaction (retried on a unique-constraint race or a deadlock, so eight workers
   applying the same delivery at once still produce one row each);
2. merges the signal into the facts keyed by the provider's ids with *commutative* rules
   (ids and payer details fill in, state takes the strongest, refunds take the largest cumulative
   total, bookings take the newest observation) so the result depends on the set of signals, not
   their order or count;
3. attaches the fact to a registration (explicit reference first, then email and learned aliases);
4. re-derives the registration's status and review items (``recompute``) under a row lock;
5. writes the audit row.
"""

from __future__ import annotations

import logging
import random
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from . import seats
from .audit import SYSTEM, Actor, audit
from .audit import batched as audit_batched
from .detection import detect_review_items, open_review_count
from .identity import find_attendee, known_emails, normalise_email, normalise_phone, split_emails
from .models import (
    Attendee,
    AttendeeAlias,
    Booking,
    Dispute,
    Event,
    EventMapping,
    Payment,
    Refund,
    Registration,
    ReviewItem,
    Source,
)
from .signals import BookingSignal, PaymentSignal
from .status import derive_status

log = logging.getLogger(__name__)

REFERENCE_RE = re.compile(r"^R[A-HJ-NP-Z2-9]{16}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PAYMENT_STATE_RANK = {"expired": 0, "unpaid": 1, "failed": 2, "paid": 3}
REFUND_STATUS_RANK = {"": 0, "pending": 1, "requires_action": 2, "succeeded": 3, "failed": 4, "canceled": 4}
BOOKING_STATUS_RANK = {"booked": 0, "rescheduled": 1, "cancelled": 2}


@dataclass
class ApplyResult:
    """What a signal changed. ``created`` = a fact we had never seen; ``changed`` = fields of an
    existing fact that moved; neither = a redelivery (no-op)."""

    fact: object = None
    registration: Registration | None = None
    created: bool = False
    changed: list = field(default_factory=list)
    status_before: str = ""
    status_after: str = ""
    unmatched_event: bool = False

    @property
    def noop(self):
        return not self.created and not self.changed


def _retrying(fn, attempts: int = 6):
    """Run ``fn`` in a transaction; a lost race on a unique key or a deadlock just runs it again."""
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                return fn()
        except (IntegrityError, OperationalError) as exc:
            if attempt == attempts - 1:
                raise
            log.info("retrying after %s (attempt %d)", type(exc).__name__, attempt + 1)
            time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
    raise AssertionError("unreachable")


def _batched(fn):
    """Run ``fn`` with its audit rows written in one insert at the end (same transaction)."""
    with audit_batched():
        return fn()


def is_reference(value: str) -> bool:
    # fullmatch: with match(), the "$" in REFERENCE_RE also accepted a trailing newline.
    return isinstance(value, str) and bool(REFERENCE_RE.fullmatch(value))


# --- Events -----------------------------------------------------------------------------------
def resolve_event(mapping_keys) -> tuple[Event | None, bool]:
    """(event, ignored) for the first mapping key that is mapped. Keys are [kind, value] pairs."""
    keys = [tuple(k) for k in mapping_keys or []]
    if not keys:
        return None, False
    q = Q()
    for kind, value in keys:
        q |= Q(kind=kind, value=str(value))
    mappings = {(m.kind, m.value): m for m in EventMapping.objects.filter(q).select_related("event")}
    ignored = False
    for key in keys:
        m = mappings.get((key[0], str(key[1])))
        if m is None:
            continue
        if m.ignored:
            ignored = True
            continue
        return m.event, False
    return None, ignored


def _merge_keys(existing, new) -> list:
    merged = {tuple(map(str, k)) for k in existing or []} | {tuple(map(str, k)) for k in new or []}
    return [list(k) for k in sorted(merged)]


def _flag_unmatched(fact, actor: Actor):
    keys = [tuple(k) for k in fact.mapping_keys]
    if not keys:
        return
    kind, value = keys[0]
    label = dict(EventMapping.Kind.choices).get(kind, kind)
    item, created = ReviewItem.objects.get_or_create(
        key=f"unmatched:{kind}:{value}",
        defaults=dict(
            kind=ReviewItem.Kind.UNMATCHED_EVENT,
            explanation=(
                f"A {'payment' if isinstance(fact, Payment) else 'booking'} came in for {label} "
                f"“{value}”, which is not mapped to any event. It is kept; map it to an event "
                "(or mark it as not ours) and every stored signal for it is replayed."
            ),
            data={"mapping_kind": kind, "mapping_value": value},
        ),
    )
    if not created and item.state != ReviewItem.State.OPEN and item.resolution.startswith("auto:"):
        item.state, item.resolution = ReviewItem.State.OPEN, ""
        item.save(update_fields=["state", "resolution"])
    if created:
        audit("review.opened", actor=actor, obj=item, after={"kind": item.kind, "key": item.key})


# --- Attendees and registrations -------------------------------------------------------------
def _get_or_create_attendee(email: str, name: str, phone: str, actor: Actor, attendee: Attendee | None = None):
    """``attendee`` when already found (fill in a missing name/phone), else the one for
    ``email`` (a learned alias first), created if nobody has the address yet."""
    attendee = attendee or find_attendee(email)
    if attendee is None:
        attendee, created = Attendee.objects.get_or_create(
            email=normalise_email(email), defaults={"name": name or "", "phone": phone or ""}
        )
        if created:
            audit("attendee.created", actor=actor, obj=attendee, after={"email": attendee.email})
            return attendee
    updates = []
    if name and not attendee.name:
        attendee.name = name
        updates.append("name")
    if phone and not attendee.phone:
        attendee.phone = phone
        updates.append("phone")
    if updates:
        attendee.save(update_fields=updates)
    return attendee


def learn_alias(attendee: Attendee, email: str, reason: str, actor: Actor, registration=None) -> bool:
    """Remember that ``email`` is also ``attendee``. No-op for an address already known to anyone."""
    email = normalise_email(email)
    if not email or email in known_emails(attendee):
        return False
    if AttendeeAlias.objects.filter(email=email).exists():
        return False
    AttendeeAlias.objects.create(email=email, attendee=attendee, reason=reason[:200])
    audit(
        "attendee.alias_learned",
        actor=actor,
        registration=registration,
        obj=attendee,
        after={"alias": email, "attendee": attendee.email, "reason": reason},
    )
    return True


def _registration_for(
    event: Event, emails: list[str], reference: str, name: str, phone: str, source: str, actor: Actor
) -> Registration | None:
    """Reference beats email; then the first email that is known; else the primary email."""
    if is_reference(reference):
        reg = Registration.objects.select_related("attendee").filter(reference=reference, event=event).first()
        if reg is not None:
            for email in emails[:1]:
                # Only an address nobody has yet: learn_alias would otherwise make another
                # attendee's own address an alias (which wins over a primary in find_attendee),
                # and every later signal of that person would land on this one.
                if find_attendee(email) is None:
                    learn_alias(reg.attendee, email, f"reference {reference} match", actor, reg)
            return reg
    if not emails:
        return None
    attendee = None
    for email in emails:
        attendee = find_attendee(email)
        if attendee:
            break
    attendee = _get_or_create_attendee(emails[0], name, phone, actor, attendee=attendee)
    reg, created = Registration.objects.get_or_create(attendee=attendee, event=event, defaults={"source": source})
    if created:
        audit(
            "registration.created",
            actor=actor,
            registration=reg,
            obj=reg,
            after={"reference": reg.reference, "source": source},
        )
    return reg


# --- Recompute ---------------------------------------------------------------------------------
def recompute(registration: Registration, actor: Actor = SYSTEM, detect: bool = True) -> str:
    """Lock the registration, refresh review items from facts, and store the derived status."""
    reg = Registration.objects.select_for_update().select_related("event", "attendee").get(pk=registration.pk)
    payments = list(reg.payments.prefetch_related("disputes"))
    bookings = list(reg.bookings.all())
    touched = detect_review_items(reg, actor, payments, bookings) if detect else set()
    status = derive_status(payments, bookings, open_review_count(reg), reg.event.is_donation)
    if status != reg.status:
        before = reg.status
        reg.status = status
        reg.status_changed_at = timezone.now()
        reg.save(update_fields=["status", "status_changed_at", "updated_at"])
        audit(
            "registration.status_changed",
            actor=actor,
            registration=reg,
            obj=reg,
            before={"status": before},
            after={"status": status},
        )
    registration.status = reg.status
    for other_pk in sorted(touched - {reg.pk}):
        other = Registration.objects.filter(pk=other_pk).first()
        if other is not None:
            recompute(other, actor, detect=False)
    return status


# --- Payments ----------------------------------------------------------------------------------
def _payment_lookup(ids: dict) -> list[Payment]:
    q = Q()
    for field_name, value in ids.items():
        if value:
            q |= Q(**{field_name: value})
    if not q:
        return []
    return list(Payment.objects.select_for_update().filter(q).order_by("pk"))


def _merge_payment_rows(rows: list[Payment]) -> Payment:
    """Two rows turned out to be one payment (each knew different ids): fold into the oldest."""
    keep, extras = rows[0], rows[1:]
    for extra in extras:
        moved = {}
        for f in ("checkout_session_id", "payment_intent_id", "charge_id"):
            if getattr(extra, f) and not getattr(keep, f):
                moved[f] = getattr(extra, f)
        Refund.objects.filter(payment=extra).update(payment=keep)
        Dispute.objects.filter(payment=extra).update(payment=keep)
        ReviewItem.objects.filter(payment=extra).update(payment=keep)
        _merge_payment_fields(keep, extra)
        extra.delete()
        for f, v in moved.items():
            setattr(keep, f, v)
    keep.save()
    return keep


def _merge_payment_fields(payment: Payment, other) -> list[str]:
    """Commutative merge of another observation (a Payment or a PaymentSignal) into ``payment``."""
    changed = []

    def fill(attr, value):
        if value not in (None, "") and getattr(payment, attr) in (None, ""):
            setattr(payment, attr, value)
            changed.append(attr)

    state = other.state if isinstance(other, Payment) else other.status
    if PAYMENT_STATE_RANK.get(state, -1) > PAYMENT_STATE_RANK.get(payment.state, -1):
        payment.state = state
        changed.append("state")
    for attr in (
        "checkout_session_id",
        "payment_intent_id",
        "charge_id",
        "amount",
        "currency",
        "quantity",
        "name",
        "phone",
        "client_reference_id",
    ):
        fill(attr, getattr(other, attr, None))
    fill("email", normalise_email(getattr(other, "email", "")))
    if getattr(other, "livemode", False) and not payment.livemode:
        payment.livemode = True
        changed.append("livemode")
    keys = _merge_keys(payment.mapping_keys, getattr(other, "mapping_keys", None) or getattr(other, "event_keys", ()))
    if keys != payment.mapping_keys:
        payment.mapping_keys = keys
        changed.append("mapping_keys")
    occurred = other.occurred_at
    if occurred and (payment.occurred_at is None or occurred < payment.occurred_at):
        payment.occurred_at = occurred
        changed.append("occurred_at")
    raw = getattr(other, "raw_ref", "")
    refs = sorted(set(payment.raw_refs) | set(getattr(other, "raw_refs", []) or []) | ({raw} if raw else set()))
    if refs != payment.raw_refs:
        payment.raw_refs = refs  # provenance only: not counted as a change
    return changed


def _refresh_adjustments(payment: Payment) -> list[str]:
    """Link refunds/disputes that arrived before (or after) the payment, and re-total them."""
    ids = Q()
    if payment.payment_intent_id:
        ids |= Q(payment_intent_id=payment.payment_intent_id)
    if payment.charge_id:
        ids |= Q(charge_id=payment.charge_id)
    mine = Q(payment=payment)
    if ids:
        mine |= ids & Q(payment__isnull=True)
    refunds = list(Refund.objects.filter(mine))
    disputes = list(Dispute.objects.filter(mine))
    for model, rows in ((Refund, refunds), (Dispute, disputes)):
        waiting = [r.pk for r in rows if r.payment_id is None]
        if waiting:  # they arrived before the payment: attach them now
            model.objects.filter(pk__in=waiting, payment__isnull=True).update(payment=payment)
    cumulative = max([r.amount for r in refunds if r.cumulative] or [0])
    individual = sum(r.amount for r in refunds if not r.cumulative and r.status in ("succeeded", "pending"))
    refunded = max(cumulative, individual)
    disputed = bool(disputes)
    changed = []
    if not payment.charge_id:
        # A refund or dispute that arrived first already told us the charge id.
        charge = next((a.charge_id for a in [*refunds, *disputes] if a.charge_id), "")
        if charge and not Payment.objects.filter(charge_id=charge).exclude(pk=payment.pk).exists():
            payment.charge_id = charge
            changed.append("charge_id")
    if refunded != payment.amount_refunded:
        payment.amount_refunded = refunded
        changed.append("amount_refunded")
    if disputed != payment.disputed:
        payment.disputed = disputed
        changed.append("disputed")
    return changed


def _attach_payment(payment: Payment, actor: Actor, source: str) -> tuple[Registration | None, bool]:
    """Find the event and registration for a payment. Returns (registration, unmatched_event)."""
    if payment.event_id is None:
        event, ignored = resolve_event(payment.mapping_keys)
        if event is None:
            if not ignored and payment.state != Payment.State.EXPIRED:
                _flag_unmatched(payment, actor)
            return None, not ignored
        payment.event = event
        if payment.registration_id or payment.state == Payment.State.EXPIRED:
            payment.save(update_fields=["event", "updated_at"])
    if payment.registration_id:
        return payment.registration, False
    if payment.state == Payment.State.EXPIRED:
        return None, False  # an abandoned checkout is recorded but registers nobody
    emails = [payment.email] if payment.email else []
    reg = _registration_for(
        payment.event, emails, payment.client_reference_id, payment.name, payment.phone, source, actor
    )
    if reg is None:
        payment.save(update_fields=["event", "updated_at"])
    else:
        payment.registration = reg
        payment.save(update_fields=["event", "registration", "updated_at"])
        audit(
            "payment.matched",
            actor=actor,
            registration=reg,
            obj=payment,
            after={
                "payment": str(payment),
                "by": "reference" if reg.reference == payment.client_reference_id else "email",
            },
        )
    return reg, False


def _signal_time(signal) -> datetime:
    return signal.occurred_at or timezone.now()


def _apply_refund(signal: PaymentSignal, actor: Actor) -> ApplyResult:
    if signal.refund_id:
        refund, created = Refund.objects.select_for_update().get_or_create(
            refund_id=signal.refund_id,
            defaults=dict(
                payment_intent_id=signal.payment_intent_id,
                charge_id=signal.charge_id,
                amount=signal.amount_refunded,
                status=signal.refund_status or "succeeded",
                reason=signal.reason,
                occurred_at=_signal_time(signal),
            ),
        )
        changed = []
        if not created:
            if REFUND_STATUS_RANK.get(signal.refund_status, 0) > REFUND_STATUS_RANK.get(refund.status, 0):
                refund.status = signal.refund_status
                changed.append("status")
            if signal.amount_refunded > refund.amount:
                refund.amount = signal.amount_refunded
                changed.append("amount")
    else:
        key = f"charge-total:{signal.charge_id or signal.payment_intent_id}"
        refund, created = Refund.objects.select_for_update().get_or_create(
            refund_id=key,
            defaults=dict(
                payment_intent_id=signal.payment_intent_id,
                charge_id=signal.charge_id,
                amount=signal.amount_refunded,
                cumulative=True,
                occurred_at=_signal_time(signal),
            ),
        )
        changed = []
        if not created and signal.amount_refunded > refund.amount:
            refund.amount = signal.amount_refunded
            changed.append("amount")
    for attr in ("payment_intent_id", "charge_id"):
        if getattr(signal, attr) and not getattr(refund, attr):
            setattr(refund, attr, getattr(signal, attr))
            changed.append(attr)
    if changed:
        refund.save()
    result = ApplyResult(fact=refund, created=created, changed=changed)
    payment = _payment_for_adjustment(signal)
    if payment is not None:
        _finish_payment(payment, actor, result, Source.WEBHOOK)
    if created or changed:
        audit(
            "payment.refund_recorded",
            actor=actor,
            registration=result.registration,
            obj=refund,
            after={
                "refund": refund.refund_id,
                "amount": refund.amount,
                "status": refund.status,
                "payment_known": payment is not None,
            },
        )
    return result


def _apply_dispute(signal: PaymentSignal, actor: Actor) -> ApplyResult:
    occurred = _signal_time(signal)
    dispute, created = Dispute.objects.select_for_update().get_or_create(
        dispute_id=signal.dispute_id or signal.source_id,
        defaults=dict(
            payment_intent_id=signal.payment_intent_id,
            charge_id=signal.charge_id,
            amount=signal.amount or 0,
            status=signal.dispute_status,
            reason=signal.reason,
            status_at=occurred,
        ),
    )
    changed = []
    if not created and (occurred, signal.dispute_status) > (dispute.status_at or _EPOCH, dispute.status):
        if dispute.status != signal.dispute_status:
            changed.append("status")
        dispute.status, dispute.status_at = signal.dispute_status, occurred
        dispute.save()
    result = ApplyResult(fact=dispute, created=created, changed=changed)
    payment = _payment_for_adjustment(signal)
    if payment is not None:
        _finish_payment(payment, actor, result, Source.WEBHOOK)
    if created or changed:
        audit(
            "payment.dispute_recorded",
            actor=actor,
            registration=result.registration,
            obj=dispute,
            after={"dispute": dispute.dispute_id, "status": dispute.status, "amount": dispute.amount},
        )
    return result


def _payment_for_adjustment(signal: PaymentSignal) -> Payment | None:
    rows = _payment_lookup({"payment_intent_id": signal.payment_intent_id, "charge_id": signal.charge_id})
    if not rows:
        return None
    payment = _merge_payment_rows(rows) if len(rows) > 1 else rows[0]
    if signal.charge_id and not payment.charge_id:
        payment.charge_id = signal.charge_id
        payment.save(update_fields=["charge_id", "updated_at"])
    return payment


def _finish_payment(payment: Payment, actor: Actor, result: ApplyResult, source: str):
    adj = _refresh_adjustments(payment)
    if adj:
        payment.save()
        result.changed.extend(f for f in adj if f not in result.changed)
    reg, unmatched = _attach_payment(payment, actor, source)
    result.unmatched_event = unmatched
    result.registration = reg
    if reg is not None:
        result.status_before = reg.status
        result.status_after = recompute(reg, actor)
    # Seats handed out from a group payment follow its state (a bank debit clearing or failing).
    for other in seats.after_payment(payment, actor):
        recompute(other, actor)


def apply_payment(signal: PaymentSignal, actor: Actor = SYSTEM, source: str = Source.WEBHOOK) -> ApplyResult:
    """Apply what Stripe (or an operator) said about a payment. Safe to call any number of times."""

    def run():
        if signal.status == "refunded":
            return _apply_refund(signal, actor)
        if signal.status == "disputed":
            return _apply_dispute(signal, actor)
        if signal.status not in PAYMENT_STATE_RANK:
            raise ValueError(f"unknown payment signal status {signal.status!r}")
        ids = {
            "checkout_session_id": signal.checkout_session_id,
            "payment_intent_id": signal.payment_intent_id,
            "charge_id": signal.charge_id,
        }
        rows = _payment_lookup(ids)
        created = not rows
        if created:
            payment = Payment(source=source, state=signal.status)
        else:
            payment = _merge_payment_rows(rows) if len(rows) > 1 else rows[0]
        refs_before = list(payment.raw_refs)
        changed = _merge_payment_fields(payment, signal)
        if created or changed or payment.raw_refs != refs_before:
            payment.save()
        result = ApplyResult(fact=payment, created=created, changed=[] if created else changed)
        if not created and not changed and payment.registration_id:
            # A redelivery of something already applied: facts are unchanged, so the derived
            # status and review items are too — nothing to recompute.
            result.registration = payment.registration
            result.status_before = result.status_after = result.registration.status
            return result
        if created or changed:
            audit(
                "payment.recorded" if created else "payment.updated",
                actor=actor,
                registration=payment.registration,
                obj=payment,
                after={"payment": str(payment), "state": payment.state, "amount": payment.amount, "changed": changed},
            )
        _finish_payment(payment, actor, result, source)
        return result

    return _retrying(lambda: _batched(run))


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


def _reference_in(signal: BookingSignal) -> str:
    for value in list(signal.intake_by_field_id.values()) + list(signal.intake.values()):
        value = str(value or "").strip()
        if is_reference(value):
            return value
    return ""


def apply_booking(signal: BookingSignal, actor: Actor = SYSTEM, source: str = Source.WEBHOOK) -> ApplyResult:
    """Apply what Acuity (or an operator) says an appointment looks like. Safe to repeat."""
    if signal.status not in BOOKING_STATUS_RANK:
        raise ValueError(f"unknown booking signal status {signal.status!r}")

    def run():
        booking, created = Booking.objects.select_for_update().get_or_create(
            acuity_appointment_id=str(signal.source_id), defaults={"source": source}
        )
        changed = []
        incoming = _booking_observation_key(signal)
        current = (booking.state_at or _EPOCH, *_split_tiebreak(booking.state_tiebreak))
        emails = split_emails(signal.email)
        if created or incoming > current or booking.state_at is None:
            values = {
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
                "state_at": signal.occurred_at or _EPOCH,
                "state_tiebreak": f"{incoming[1]}|{incoming[2]}",
            }
            ref = _reference_in(signal)
            if ref:
                values["intake_reference"] = ref
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
        booking.save()
        if created:
            changed = []
        result = ApplyResult(fact=booking, created=created, changed=changed)
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
            audit(
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
        _finish_booking(booking, actor, result, source)
        return result

    return _retrying(lambda: _batched(run))


def _attach_booking(booking: Booking, actor: Actor, source: str) -> tuple[Registration | None, bool]:
    if booking.event_id is None:
        event, ignored = resolve_event(booking.mapping_keys)
        if event is None:
            if not ignored:
                _flag_unmatched(booking, actor)
            return None, not ignored
        booking.event = event
        booking.save(update_fields=["event", "updated_at"])
    if booking.registration_id:
        return booking.registration, False
    emails = ([booking.email] if booking.email else []) + list(booking.other_emails)
    reg = _registration_for(booking.event, emails, booking.intake_reference, booking.name, booking.phone, source, actor)
    if reg is not None:
        booking.registration = reg
        booking.save(update_fields=["registration", "updated_at"])
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


def _finish_booking(booking: Booking, actor: Actor, result: ApplyResult, source: str):
    reg, unmatched = _attach_booking(booking, actor, source)
    result.unmatched_event = unmatched
    result.registration = reg
    if reg is not None:
        # A booking made with a group seat's link takes that seat (see registrations.seats).
        others = seats.after_booking(booking, reg, actor)
        result.status_before = reg.status
        result.status_after = recompute(reg, actor)
        for other in others:
            recompute(other, actor)


# --- Mappings ------------------------------------------------------------------------------------
def replay_unmatched(kind: str, value: str, actor: Actor = SYSTEM) -> int:
    """Re-run matching for every stored fact waiting on this mapping key. Returns how many."""
    key = [kind, str(value)]
    count = 0
    for model, attach in ((Payment, _attach_payment), (Booking, _attach_booking)):
        for fact in model.objects.filter(event__isnull=True).order_by("pk"):
            if key not in fact.mapping_keys:
                continue
            with transaction.atomic():
                fact = model.objects.select_for_update().get(pk=fact.pk)
                if isinstance(fact, Payment):
                    _refresh_adjustments(fact)
                    fact.save()
                reg, _ = attach(fact, actor, fact.source)
                if reg is not None:
                    recompute(reg, actor)
                count += 1
    mapping = EventMapping.objects.filter(kind=kind, value=str(value)).first()
    for item in ReviewItem.objects.filter(key=f"unmatched:{kind}:{value}", state=ReviewItem.State.OPEN):
        item.state = ReviewItem.State.RESOLVED
        item.resolution = "ignored" if mapping and mapping.ignored else "mapped"
        item.resolved_at = timezone.now()
        item.resolved_by = actor.user if getattr(actor.user, "pk", None) else None
        item.save()
        audit(
            "review.resolved." + item.resolution,
            actor=actor,
            obj=item,
            event=mapping.event if mapping else None,
            after={"replayed": count},
        )
    return count


def add_mapping(kind: str, value: str, event: Event | None, actor: Actor = SYSTEM, ignored: bool = False):
    """Map a provider key to an event (or mark it not ours) and replay what was waiting for it."""
    with transaction.atomic():
        mapping, created = EventMapping.objects.update_or_create(
            kind=kind, value=str(value), defaults={"event": event, "ignored": ignored}
        )
        audit(
            "mapping.added" if created else "mapping.changed",
            actor=actor,
            event=event,
            obj=mapping,
            after={"kind": kind, "value": str(value), "event": event.slug if event else None, "ignored": ignored},
        )
    replayed = replay_unmatched(kind, value, actor)
    return mapping, replayed


# --- Walk-ins -----------------------------------------------------------------------------------
def enter_walk_in(
    *, event: Event, email: str, name: str, phone: str = "", method: str, amount: int, actor: Actor, note: str = ""
) -> Registration:
    """An operator records someone who paid at the door: paid (cash/card/comp) and present."""
    email = normalise_email(email)
    if not email or "@" not in email:
        raise ValueError("A walk-in needs an email address.")
    if method not in {
        Payment.Method.CASH,
        Payment.Method.CARD_IN_PERSON,
        Payment.Method.COMPLIMENTARY,
        Payment.Method.OTHER,
    }:
        raise ValueError(f"Unknown payment method {method!r}.")
    if amount < 0:
        raise ValueError("Amount cannot be negative.")

    def run():
        reg = _registration_for(event, [email], "", name, normalise_phone(phone), Source.WALK_IN, actor)
        stamp = timezone.now()
        payment = Payment.objects.create(
            manual_key=f"walkin:{reg.pk}:{stamp.timestamp():.6f}",
            event=event,
            registration=reg,
            state=Payment.State.PAID,
            method=method,
            source=Source.WALK_IN,
            amount=amount,
            currency=event.currency,
            quantity=1,
            email=email,
            name=name,
            occurred_at=stamp,
            note=note[:300],
        )
        if not reg.bookings.filter(cancelled=False).exists():
            Booking.objects.create(
                manual_key=f"walkin:{reg.pk}:{stamp.timestamp():.6f}",
                event=event,
                registration=reg,
                email=email,
                first_name=name,
                source=Source.WALK_IN,
                starts_at=event.starts_at,
                state_at=stamp,
                note="walk-in",
            )
        audit(
            "registration.walk_in",
            actor=actor,
            registration=reg,
            obj=payment,
            after={"method": method, "amount": amount, "note": note},
        )
        recompute(reg, actor)
        return reg

    return _retrying(run)
