"""Seats of a group payment, handed out as booking references.

A payer who buys N seats in one payment gets, on the handoff page, one booking link per seat:
seat 1 carries the payer's own registration reference, seats 2..N each carry a
``SeatReference``. Whoever books with a seat link keeps their own registration (their own
email), and is given the seat: a GROUP_SEAT payment of amount 0 keyed
``seat:<group payment pk>:<seat>`` — the same fact ``resolutions.assign_group_seats`` writes when
an operator assigns seats by hand, so both paths look alike in the dashboard and exports.

One person holds one seat of a group (as an operator assigning seats is held to): someone who
already holds a seat of it and books with another seat's link keeps that booking but gets no
second seat; the link stays free and the open group card and their timeline say so.

The seat payment follows the group payment's state (a bank debit still clearing leaves the seat
unpaid until the money arrives), and when every seat is booked the "group payment" review item
is resolved with ``seats_assigned``.

Refunds. A seat payment's amount is 0 (the money is on the group payment), so it cannot be
refunded by amount. Instead ``Payment.refunded_with_group`` is kept equal to the group payment's
``fully_refunded``: when the group payment is refunded in full, every seat of it counts as
refunded (each holder's status becomes REFUNDED, like any attendee whose payment was refunded),
and if that refund later fails (``amount_refunded`` goes back down) the seats are live again.
It is a mirror of the group's facts, never a fact of its own, so the result does not depend on
arrival order: ``after_payment`` re-syncs every seat after each change to the group payment, and a
seat claimed (booking link or operator assignment) after the full refund is born refunded. Each
change writes a ``payment.updated`` audit row on the seat saying why; a redelivery changes
nothing and writes nothing.

A *partial* refund of a group payment leaves every seat as it is: nothing says which seat the
money was for, so an operator decides (refund the rest, or keep the seats). It is deliberately not
a review item: the review kinds have no "which seat was refunded" decision (the group payment
card only assigns seats), and the payer's timeline already shows the refund
(``payment.refund_recorded``) next to the seats handed out.

``apply_booking`` / ``apply_payment`` call ``after_booking`` / ``after_payment`` inside their
transaction; both return the other registrations whose status may have changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .audit import Actor, audit
from .models import AuditLog, Booking, EventMapping, Payment, Registration, ReviewItem, SeatReference
from .money import format_money, from_minor

SEAT_STATE_FROM_GROUP = {
    Payment.State.PAID: Payment.State.PAID,
    Payment.State.UNPAID: Payment.State.UNPAID,
    Payment.State.FAILED: Payment.State.FAILED,
}
_STATE_RANK = {"expired": 0, "unpaid": 1, "failed": 2, "paid": 3}


def seat_key(payment: Payment, seat: int) -> str:
    return f"seat:{payment.pk}:{seat}"


def parse_seat_key(key: str | None) -> tuple[int, int] | None:
    """``seat_key`` read back: (group payment pk, seat number), or None for any other key."""
    parts = (key or "").split(":")
    if len(parts) == 3 and parts[0] == "seat" and parts[1].isdigit() and parts[2].isdigit():
        return int(parts[1]), int(parts[2])
    return None


@dataclass(frozen=True)
class LineItemSeats:
    """How many of a checkout's line items are seats of ``event`` (``seats_in_line_items``)."""

    seats: int  # 0: none of them is a ticket of this event (the payer still holds one seat)
    counted: list  # [[price id, quantity], …] counted as seats
    left_out: list  # [[price id, quantity, why], …] not seats: another event's, or marked not ours
    # Counted though nothing says they are tickets of this event (their prices are not mapped to
    # it) while they are of several prices, or while the event has other prices mapped: one of
    # them may be an add-on. The group card names them for an operator.
    unsure: bool = False

    @property
    def quantity(self) -> int | None:
        return self.seats or None

    def details(self) -> dict:
        """For an audit row, in words the payer's history shows as they are."""
        return {
            "seats_counted": self.seats or 1,
            "counted": [f"{price or 'no price'} ×{quantity}" for price, quantity in self.counted],
            "left_out": [f"{price or 'no price'} ×{quantity} ({why})" for price, quantity, why in self.left_out],
            "unsure": self.unsure,
        }


def seats_in_line_items(event, line_items) -> LineItemSeats:
    """Which line items of a checkout for ``event`` are seats. A Payment Link can sell add-ons
    (a lunch, a T-shirt, an upgrade, a donation product) next to the ticket; only tickets are seats:

    * a price mapped to another event, or marked not ours, is never a seat;
    * a price mapped to this event is; when any line item has one, only those are seats;
    * otherwise (the event is found by its payment link or metadata) every remaining line item
      counts, as it always did, and is ``unsure`` when they are of several prices or the event
      has other prices mapped: counting too many opens a group card an operator sees, counting
      too few would silently leave a friend without a seat."""
    pairs = []
    for pair in line_items or []:
        try:
            price, quantity = str(pair[0] or ""), int(pair[1] or 0)
        except (TypeError, ValueError, IndexError):
            continue
        pairs.append([price, quantity])
    prices = {price for price, _ in pairs if price}
    # One query: the mappings of these prices, and whether the event has price mappings of its own.
    mapped, event_has_prices = {}, False
    if pairs:
        for m in EventMapping.objects.filter(
            Q(value__in=prices) | Q(event=event, ignored=False), kind=EventMapping.Kind.STRIPE_PRICE
        ).select_related("event"):
            if m.value in prices:
                mapped[m.value] = m
            if m.event_id == event.pk and not m.ignored:
                event_has_prices = True
    ours = {v for v, m in mapped.items() if not m.ignored and m.event_id == event.pk}
    left_out, rest = [], []
    for price, quantity in pairs:
        m = mapped.get(price)
        if m is not None and m.ignored:
            left_out.append([price, quantity, "marked not ours"])
        elif m is not None and m.event_id != event.pk:
            left_out.append([price, quantity, f"a price of {m.event}"])
        elif ours and price not in ours:
            left_out.append([price, quantity, "not this event's ticket price"])
        else:
            rest.append([price, quantity])
    unsure = False
    if rest and not ours:
        unsure = len({price for price, _ in rest}) > 1 or event_has_prices
    return LineItemSeats(sum(q for _, q in rest), rest, left_out, unsure)


def seats_handed_out(payment: Payment) -> bool:
    """Any seat of ``payment`` given to someone: an operator's assignment, a seat link issued to
    the payer, a seat payment."""
    return (
        bool(payment.seat_assignments)
        or SeatReference.objects.filter(payment=payment).exists()
        or Payment.objects.filter(manual_key__startswith=f"seat:{payment.pk}:").exists()
    )


def issue_seat_references(payment: Payment, actor: Actor) -> list[SeatReference]:
    """One reference per extra seat (2..quantity) of ``payment``. Idempotent: a second call (the
    payer reloads the page, or two tabs at once) returns the same references."""
    seats = payment.quantity or 1
    if seats < 2 or payment.registration_id is None:
        return []
    existing = {s.seat: s for s in SeatReference.objects.filter(payment=payment)}
    if all(n in existing for n in range(2, seats + 1)):
        return [existing[n] for n in sorted(existing) if n <= seats]
    with transaction.atomic():
        # Locked like ``resolutions.assign_group_seats`` locks it: a seat an operator is giving at
        # this moment is committed (and seen below) before its link is issued.
        list(Payment.objects.select_for_update().filter(pk=payment.pk).values_list("pk"))
        existing = {s.seat: s for s in SeatReference.objects.filter(payment=payment)}
        created = []
        for n in range(2, seats + 1):
            if n in existing:
                continue
            # A seat an operator already gave (its seat payment exists) gets a link that is used
            # already: shown as booked, and booking with it gives no second seat.
            given = Payment.objects.filter(manual_key=seat_key(payment, n)).exclude(registration=None).first()
            try:
                with transaction.atomic():
                    existing[n] = SeatReference.objects.create(
                        payment=payment,
                        seat=n,
                        registration=given.registration if given else None,
                        claimed_at=timezone.now() if given else None,
                    )
                    created.append(n)
            except IntegrityError:  # a concurrent request issued it first
                existing[n] = SeatReference.objects.get(payment=payment, seat=n)
        if created:
            audit(
                "payment.seat_references_issued",
                actor=actor,
                registration=payment.registration,
                obj=payment,
                after={"payment": str(payment), "seats": seats, "issued": created},
            )
    return [existing[n] for n in sorted(existing) if n <= seats]


def _seat_payment_state(group: Payment) -> str:
    return SEAT_STATE_FROM_GROUP.get(group.state, Payment.State.UNPAID)


def seat_fields_from_group(group: Payment) -> dict:
    """What a new seat payment of ``group`` inherits from it (lock ``group`` first, so a refund
    applied at the same moment is either seen here or re-synced by ``after_payment``)."""
    return {"state": _seat_payment_state(group), "refunded_with_group": group.fully_refunded}


def refund_reason(group: Payment) -> str:
    """Why a seat of ``group`` counts as refunded (or no longer does), for its audit row."""
    amounts = f"{from_minor(group.amount_refunded, group.currency):,} of {format_money(group.amount, group.currency)}"
    if group.fully_refunded:
        return f"group payment {group} was refunded in full ({amounts})"
    return f"the refund of group payment {group} no longer counts in full ({amounts} refunded)"


def _claim(seat: SeatReference, booking: Booking, reg: Registration, actor: Actor) -> None:
    # Locked so a refund (or state change) of the group payment applied at the same moment is
    # either already visible here or runs after this seat payment exists and re-syncs it.
    group = (
        Payment.objects.select_for_update(of=("self",))
        .select_related("registration__attendee", "event")
        .get(pk=seat.payment_id)
    )
    seat.payment = group  # the caller reads the seat summary written below
    payer_reg = group.registration
    now = timezone.now()
    seat.registration = reg
    seat.claimed_at = now
    seat.save(update_fields=["registration", "claimed_at"])
    seat_payment = None
    if payer_reg is None or reg.pk != payer_reg.pk:
        # The payer booking an extra seat under their own address gets no second payment row:
        # it would look like a duplicate payment. The seat is still marked as taken.
        seat_payment, _ = Payment.objects.get_or_create(
            manual_key=seat_key(group, seat.seat),
            defaults=dict(
                event=group.event,
                registration=reg,
                **seat_fields_from_group(group),
                method=Payment.Method.GROUP_SEAT,
                source=booking.source,
                amount=0,
                currency=group.currency or group.event.currency,
                quantity=1,
                email=reg.attendee.email,
                name=reg.attendee.name,
                occurred_at=now,
                note=f"seat {seat.seat} of {group.quantity} of group payment {group} "
                f"by {payer_reg.attendee.email if payer_reg else 'unknown payer'}"[:300],
            ),
        )
    summary = [s for s in group.seat_assignments or [] if s.get("seat") != seat.seat]
    summary.append({"seat": seat.seat, "registration": reg.reference, "email": reg.attendee.email, "by": "booking"})
    group.seat_assignments = sorted(summary, key=lambda s: s.get("seat") or 0)
    group.save(update_fields=["seat_assignments", "updated_at"])
    audit(
        "registration.seat_assigned",
        actor=actor,
        registration=reg,
        obj=seat_payment or seat,
        after={
            "group_payment": str(group),
            "seat": seat.seat,
            "seats": group.quantity,
            "payer": payer_reg.attendee.email if payer_reg else None,
            "booking": booking.acuity_appointment_id,
            "by": "seat reference",
            **(
                {"refunded_with_group": True, "because": refund_reason(group)}
                if seat_payment is not None and seat_payment.refunded_with_group
                else {}
            ),
        },
    )


def _all_seats_booked(group: Payment) -> bool:
    seats = group.quantity or 1
    payer_reg = group.registration
    if seats < 2 or payer_reg is None:
        return False
    claimed = SeatReference.objects.filter(payment=group, seat__lte=seats, registration__isnull=False).count()
    payer_booked = payer_reg.bookings.filter(cancelled=False).exists()
    return payer_booked and claimed >= seats - 1


def _maybe_resolve_group_item(group: Payment, actor: Actor) -> bool:
    if not _all_seats_booked(group):
        return False
    item = ReviewItem.objects.select_for_update().filter(key=f"group:{group.pk}", state=ReviewItem.State.OPEN).first()
    if item is None:
        return False
    item.state = ReviewItem.State.RESOLVED
    # Not "auto:…": detection reopens auto-closed items while the group payment exists.
    item.resolution = "seats_assigned"
    item.resolution_note = "Every seat was booked with its own link from the payment page: " + ", ".join(
        f"seat {s['seat']} {s['email']}" for s in group.seat_assignments or []
    )
    item.resolved_at = timezone.now()
    item.save(update_fields=["state", "resolution", "resolution_note", "resolved_at"])
    audit(
        "review.resolved.seats_assigned",
        actor=actor,
        registration=item.registration,
        obj=item,
        event=item.event,
        after={"kind": item.kind, "key": item.key, "note": item.resolution_note},
    )
    return True


def _seat_held(group: Payment, reg: Registration) -> int | None:
    """The seat of ``group`` that ``reg`` already holds (given by an operator or booked with
    another link), if any. The payer is not counted here: booking an extra seat under their own
    address marks the seat taken without a seat payment (see ``_claim``)."""
    if group.registration_id == reg.pk:
        return None
    for key in Payment.objects.filter(manual_key__startswith=f"seat:{group.pk}:", registration=reg).values_list(
        "manual_key", flat=True
    ):
        try:
            return int(key.rsplit(":", 1)[1])
        except ValueError:
            continue
    return SeatReference.objects.filter(payment=group, registration=reg).values_list("seat", flat=True).first()


def declined_sentence(note: dict) -> str:
    """What the group card says about a seat link booked by someone who already holds a seat."""
    return (
        f" {note['email']} booked with the link of seat {note['seat']} (appointment {note['booking']}) but "
        f"already holds seat {note['holds']}: no second seat was given and seat {note['seat']} is still free. "
        "Assign it by name to whoever it was booked for, or leave it."
    )


def _decline(seat: SeatReference, held: int, booking: Booking, reg: Registration, actor: Actor) -> None:
    """``reg`` booked with the link of seat ``seat.seat`` but already holds seat ``held`` of the same
    group payment. One person holds one seat (as ``resolutions.assign_group_seats`` insists), so
    the booking is kept without a second seat and the link stays free for whoever it was meant
    for; the open group card and the booker's timeline say so, for an operator to give the seat
    (by name, on the card) or leave it. A redelivery of the booking writes nothing again."""
    group = seat.payment
    email = reg.attendee.email
    note = {"seat": seat.seat, "email": email, "holds": held, "booking": booking.acuity_appointment_id}
    if AuditLog.objects.filter(
        action="registration.seat_declined",
        registration=reg,
        after__seat=seat.seat,
        after__booking=booking.acuity_appointment_id,
        after__group_payment=str(group),
    ).exists():
        return
    audit(
        "registration.seat_declined",
        actor=actor,
        registration=reg,
        obj=booking,
        after={
            "group_payment": str(group),
            **note,
            "payer": group.registration.attendee.email if group.registration else None,
        },
    )
    item = ReviewItem.objects.select_for_update().filter(key=f"group:{group.pk}", state=ReviewItem.State.OPEN).first()
    if item is None:
        return
    item.data = {**(item.data or {}), "declined": [*((item.data or {}).get("declined") or []), note]}
    item.explanation += declined_sentence(note)
    item.save(update_fields=["data", "explanation"])
    audit(
        "review.updated",
        actor=actor,
        registration=item.registration,
        obj=item,
        after={"group_payment": str(group), **note},
    )


def after_booking(booking: Booking, reg: Registration, actor: Actor) -> list[Registration]:
    """A booking was attached to ``reg``: give it its seat if it carries a seat reference, and
    resolve group items whose seats are now all booked. Returns other registrations to recompute."""
    others: dict[int, Registration] = {}
    ref = booking.intake_reference
    if ref:
        seat = (
            SeatReference.objects.select_for_update(of=("self",))
            .select_related("payment__registration__attendee", "payment__event")
            .filter(reference=ref)
            .first()
        )
        free = seat is not None and seat.payment.event_id == booking.event_id and seat.registration_id is None
        held = _seat_held(seat.payment, reg) if free else None
        if held is not None:
            _decline(seat, held, booking, reg, actor)
        elif free:
            _claim(seat, booking, reg, actor)
            if seat.payment.registration_id and seat.payment.registration_id != reg.pk:
                others[seat.payment.registration_id] = seat.payment.registration
            if seat.payment.state == Payment.State.FAILED:
                # A seat of a failed group payment the payer has since paid again for.
                from .seat_takeover import take_over_failed_seats

                for other in take_over_failed_seats(seat.payment.registration_id, seat.payment.event_id, actor):
                    if other.pk != reg.pk:
                        others[other.pk] = other
        if seat is not None:
            _maybe_resolve_group_item(seat.payment, actor)
    # The payer's own booking can be the last seat to be booked (a registration created just now
    # for this booking has paid for nothing).
    if not getattr(reg, "new_in_transaction", False):
        for group in Payment.objects.filter(registration=reg, seat_references__isnull=False).distinct():
            _maybe_resolve_group_item(group, actor)
    return list(others.values())


def audit_seat_change(seat_payment: Payment, actor: Actor, before: dict | None, after: dict) -> None:
    """The audit row of a change to a seat payment, on its holder's timeline."""
    audit(
        "payment.updated",
        actor=actor,
        registration=seat_payment.registration,
        obj=seat_payment,
        before=before,
        after=after,
    )


def after_payment(payment: Payment, actor: Actor) -> list[Registration]:
    """The group payment changed (a bank debit cleared or failed, a refund counted in full or
    stopped counting): its seat payments follow. Returns the seat holders' registrations to
    recompute. Idempotent: a seat already in step is left alone and gets no audit row."""
    if payment.method != Payment.Method.STRIPE:
        return []
    if (payment.quantity or 1) < 2 and not payment.seat_assignments:
        # Seats of a payment whose seat count came from its amount (quantity 1) are only ever
        # handed out by an operator, which records them in ``seat_assignments``.
        return []
    target = _seat_payment_state(payment)
    refunded = payment.fully_refunded
    changed = []
    for seat_payment in Payment.objects.select_for_update().filter(
        manual_key__startswith=f"seat:{payment.pk}:", method=Payment.Method.GROUP_SEAT
    ):
        before, after = {}, {}
        if _STATE_RANK.get(target, -1) > _STATE_RANK.get(seat_payment.state, -1):
            before["state"], after["state"] = seat_payment.state, target
            seat_payment.state = target
        if seat_payment.refunded_with_group != refunded:
            before["refunded_with_group"], after["refunded_with_group"] = seat_payment.refunded_with_group, refunded
            seat_payment.refunded_with_group = refunded
        if not after:
            continue
        seat_payment.save(update_fields=[*after, "updated_at"])
        after["because"] = (
            refund_reason(payment) if "refunded_with_group" in after else f"group payment {payment} is {payment.state}"
        )
        audit_seat_change(seat_payment, actor, before, after)
        if seat_payment.registration is not None:
            changed.append(seat_payment.registration)
    if payment.state in (Payment.State.PAID, Payment.State.FAILED) and (payment.quantity or 1) >= 2:
        # A failed group payment paid again (this one failing, or this one the new payment):
        # the new payment takes over the seats that were booked (``registrations.seat_takeover``).
        from .seat_takeover import take_over_failed_seats

        changed += take_over_failed_seats(payment.registration_id, payment.event_id, actor)
    return changed
