"""A failed group payment paid again: the new payment takes over the seats that were booked.

A payer buys N seats by bank debit, friends book with the seat links of that payment, and the
debit fails: the friends' seats follow it and are unpaid (``seats.after_payment``). The "didn't
go through" page asks the payer to pay again for the same number of seats, which makes a new
payment with new seat links; without this module the friends who already booked would stay
unpaid (and be reminded to pay) until an operator gave them seats of the new payment by hand.

``take_over_failed_seats`` moves them, conservatively, only when nothing is ambiguous:

* the same registration (the payer) on the same event has exactly one FAILED Stripe payment of
  two or more seats that handed seats out, and exactly one live PAID Stripe payment of at least
  as many seats (a new payment still clearing, for fewer seats, or by someone else takes nothing
  over; several candidates are left to an operator, who sees the new payment's group card);
* a seat n of the failed payment becomes seat n of the new one unless the new payment already
  gave seat n, or already gave its holder a seat (one person holds one seat of a group). Its
  seat payment is re-keyed ``seat:<new pk>:n`` and takes the new payment's state and refund, in
  one ``payment.updated`` audit row on the holder's timeline saying why; the new payment's link
  for seat n, if issued and unused, is marked used by the holder (as an operator assigning the
  seat does), otherwise the failed payment's link moves with the seat; the payer's timeline gets
  one ``payment.seats_taken_over`` row;
* a holder who has since paid for themselves keeps their seat of the failed payment (the new
  payment's seat stays free, on its group card): they are not paid for twice;
* an unused link of the failed payment for a seat the new payment has no link for yet moves to
  the new payment, so a link the payer already sent to a friend keeps working (and gives a paid
  seat).

It is a function of the stored facts, run whenever one of them changes (the failed payment
failing, the new payment being paid or attached, a seat of a failed payment being booked), so the
outcome does not depend on the order in which Stripe and Acuity report them; a run with nothing
left to move changes nothing and writes nothing. A takeover already made stays if a second failed
group payment of the same payer appears later (an operator decides about that one).
"""

from __future__ import annotations

from django.utils import timezone

from . import seats
from .audit import Actor, audit
from .models import Payment, Registration, SeatReference


def _given(group: Payment) -> dict[int, int | None]:
    """Seat number → holder (registration pk) of the seats ``group`` handed out: a seat payment
    keyed to it, or a used booking link (the payer booking an extra seat has no seat payment)."""
    given: dict[int, int | None] = {}
    for key, holder in Payment.objects.filter(manual_key__startswith=f"seat:{group.pk}:").values_list(
        "manual_key", "registration_id"
    ):
        parsed = seats.parse_seat_key(key)
        if parsed:
            given[parsed[1]] = holder
    for seat, holder in SeatReference.objects.filter(payment=group, registration__isnull=False).values_list(
        "seat", "registration_id"
    ):
        given.setdefault(seat, holder)
    return given


def _candidates(registration_id: int, event_id: int) -> tuple[Payment, Payment] | None:
    groups = list(
        Payment.objects.select_for_update(of=("self",))
        .filter(registration_id=registration_id, event_id=event_id, method=Payment.Method.STRIPE, quantity__gte=2)
        .order_by("pk")
    )
    failed = [p for p in groups if p.state == Payment.State.FAILED and _given(p)]
    if len(failed) != 1:
        return None
    old = failed[0]
    paying = [p for p in groups if p.is_paid and not p.fully_refunded and (p.quantity or 1) >= (old.quantity or 1)]
    if len(paying) != 1:
        return None
    return old, paying[0]


def take_over_failed_seats(registration_id: int | None, event_id: int | None, actor: Actor) -> list[Registration]:
    """See the module docstring. Returns the registrations whose status may have changed (the
    seat holders, and the payer when the new payment's group card was settled)."""
    if registration_id is None or event_id is None:
        return []
    pair = _candidates(registration_id, event_id)
    if pair is None:
        return []
    old, new = pair
    new_given = _given(new)
    new_refs = {r.seat: r for r in SeatReference.objects.select_for_update().filter(payment=new)}
    old_refs = {r.seat: r for r in SeatReference.objects.select_for_update().filter(payment=old)}
    seat_payments = {}
    for row in Payment.objects.select_for_update().filter(manual_key__startswith=f"seat:{old.pk}:"):
        parsed = seats.parse_seat_key(row.manual_key)
        if parsed:
            seat_payments[parsed[1]] = row
    # What ``_given(old)`` says, from the rows just locked (not read a second time).
    old_given = {n: row.registration_id for n, row in seat_payments.items()}
    for n, ref in old_refs.items():
        if ref.registration_id is not None:
            old_given.setdefault(n, ref.registration_id)
    holders = {
        r.pk: r for r in Registration.objects.select_related("attendee").filter(pk__in=set(old_given.values()) - {None})
    }
    # A holder who has paid for themselves since (reminded to pay while the seat was unpaid) is
    # not paid for a second time by the payer: the seat stays with the failed payment, and the new
    # payment's seat stays free on its group card for an operator to settle.
    paid_already = {
        p.registration_id
        for p in Payment.objects.filter(
            registration_id__in=set(holders) - {registration_id}, event_id=new.event_id
        ).exclude(manual_key__startswith=f"seat:{old.pk}:")
        if p.is_paid and not p.fully_refunded
    }
    payer = new.registration
    because = (
        f"{payer.attendee.email} paid again for {new.quantity} seats ({new}) after group payment {old} "
        "failed: the seat is now a seat of the new payment"
    )
    now = timezone.now()
    moved, changed = [], {}
    fields = seats.seat_fields_from_group(new)
    summary = {s.get("seat"): s for s in new.seat_assignments or [] if isinstance(s, dict)}
    for n, holder_pk in sorted(old_given.items()):
        holder = holders.get(holder_pk)
        if (
            holder is None
            or holder_pk in paid_already
            or n > (new.quantity or 1)
            or n in new_given
            or holder_pk in new_given.values()
        ):
            continue
        row = seat_payments.get(n)
        if row is not None:
            before = {"manual_key": row.manual_key, "state": row.state}
            row.manual_key = seats.seat_key(new, n)
            row.state = fields["state"]
            row.refunded_with_group = fields["refunded_with_group"]
            row.save(update_fields=["manual_key", "state", "refunded_with_group", "updated_at"])
            seats.audit_seat_change(
                row, actor, before, {"manual_key": row.manual_key, "state": row.state, "because": because}
            )
            changed[holder.pk] = holder
        if n in new_refs:
            ref = new_refs[n]
            ref.registration, ref.claimed_at = holder, now
            ref.save(update_fields=["registration", "claimed_at"])
        elif n in old_refs:  # the link the holder booked with moves with the seat
            SeatReference.objects.filter(pk=old_refs.pop(n).pk).update(payment=new)
        new_given[n] = holder_pk
        summary[n] = {"seat": n, "registration": holder.reference, "email": holder.attendee.email, "by": "paid again"}
        moved.append(f"seat {n} ({holder.attendee.email})")
    # Unused links of the failed payment already sent out keep working, for the new payment.
    for n, ref in old_refs.items():
        if ref.registration_id is None and n not in new_refs and n not in new_given and n <= (new.quantity or 1):
            SeatReference.objects.filter(pk=ref.pk).update(payment=new)
    if not moved:
        return []
    new.seat_assignments = [summary[n] for n in sorted(n for n in summary if isinstance(n, int))]
    new.save(update_fields=["seat_assignments", "updated_at"])
    audit(
        "payment.seats_taken_over",
        actor=actor,
        registration=payer,
        obj=new,
        after={"payment": str(new), "failed_payment": str(old), "moved": ", ".join(moved)},
    )
    out = list(changed.values())
    if seats._maybe_resolve_group_item(new, actor):
        out.append(payer)
    return out
