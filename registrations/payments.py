"""Payment facts from Stripe (and operators): merge, refunds and disputes in any order, attach."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from . import seats
from .audit import SYSTEM, Actor, audit
from .detection import FALLEN_REFUND, _auto_close
from .engine import _EPOCH, ApplyResult, _batched, _retrying, recompute
from .identity import normalise_email
from .matching import (
    _flag_unmatched,
    _merge_keys,
    _registration_for,
    resolve_event,
)
from .models import (
    AuditLog,
    Dispute,
    Payment,
    Refund,
    Registration,
    ReviewItem,
    SeatReference,
    Source,
)
from .signals import PaymentSignal

log = logging.getLogger(__name__)

PAYMENT_STATE_RANK = {"expired": 0, "unpaid": 1, "failed": 2, "paid": 3}
# The payment fields an observation fills in when they are still empty (besides state, email,
# livemode, mapping keys and time, which have rules of their own in ``_merge_payment_fields``).
FILLED_FIELDS = (
    "checkout_session_id",
    "payment_intent_id",
    "charge_id",
    "amount",
    "currency",
    "quantity",
    "name",
    "phone",
    "client_reference_id",
)
REFUND_STATUS_RANK = {"": 0, "pending": 1, "requires_action": 2, "succeeded": 3, "failed": 4, "canceled": 4}


# --- Payments ----------------------------------------------------------------------------------
def _payment_lookup(ids: dict) -> list[Payment]:
    q = Q()
    for field_name, value in ids.items():
        if value:
            q |= Q(**{field_name: value})
    if not q:
        return []
    return list(Payment.objects.select_for_update().filter(q).order_by("pk"))


def _seat_number(seat_payment: Payment) -> int | None:
    seat = seats.parse_seat_key(seat_payment.manual_key)
    return seat[1] if seat else None


def _merge_seats(keep: Payment, extra: Payment, actor: Actor) -> None:
    """Seats handed out from ``extra`` become seats of ``keep``: its booking links, its seat
    payments (keyed ``seat:<extra pk>:<n>``, re-keyed to ``seat:<keep pk>:<n>`` so they follow
    ``keep``'s state and refunds, one audit row each) and its seat summary.

    A seat can only be given once, so each seat number is decided as a whole (its link, its seat
    payment and its summary line go together and never end up on different people). A row
    *gave* seat n when it has a seat payment for n or a used booking link for n:

    * only ``extra`` gave it: ``extra``'s seat moves to ``keep`` (an unused link ``keep`` issued
      for that seat is dropped for ``extra``'s, or, if ``extra`` has none, marked used by the
      holder, as ``resolutions.assign_group_seats`` does);
    * both gave it: ``keep``'s stands. ``extra``'s link goes with ``extra``; its seat payment
      keeps its old key, so its holder keeps what they have but no longer follows the group,
      and gets an audit row saying so for an operator to settle (rows from two Stripe events of
      one payment very rarely both hand out seats);
    * neither gave it: ``keep``'s unused link stands, or ``extra``'s moves if ``keep`` has none
      (links already sent keep working)."""
    seat_rows = {}
    for row in Payment.objects.select_for_update().filter(manual_key__startswith=f"seat:{extra.pk}:").order_by("pk"):
        seat_rows.setdefault(_seat_number(row), row)
    seat_rows.pop(None, None)
    extra_refs = {r.seat: r for r in SeatReference.objects.select_for_update().filter(payment=extra)}
    if not seat_rows and not extra_refs and not extra.seat_assignments:
        return
    keep_refs = {r.seat: r for r in SeatReference.objects.select_for_update().filter(payment=keep)}
    keep_given = {_seat_number(p) for p in Payment.objects.filter(manual_key__startswith=f"seat:{keep.pk}:")}
    keep_given = (keep_given - {None}) | {n for n, r in keep_refs.items() if r.registration_id}
    moving = (set(seat_rows) | {n for n, r in extra_refs.items() if r.registration_id}) - keep_given
    stays = keep_given | (set(keep_refs) - moving)  # seat numbers where keep's link or seat stands
    now = timezone.now()
    for n in moving & set(keep_refs):  # keep's unused link for a seat only extra gave makes way
        ref = keep_refs[n]
        if n in extra_refs:
            ref.delete()
        else:
            ref.registration, ref.claimed_at = seat_rows[n].registration, now
            ref.save(update_fields=["registration", "claimed_at"])
    SeatReference.objects.filter(payment=extra).exclude(seat__in=stays).update(payment=keep)
    because = f"payments {extra} and {keep} are one payment (merged into {keep})"
    for n, seat_payment in sorted(seat_rows.items()):
        if n not in moving:  # keep gave seat n too: keep's stands
            why = (
                f"{because}; seat {n} of it was also given to someone else, so this seat was left as it "
                "is and no longer follows the group payment: an operator decides"
            )
            seats.audit_seat_change(seat_payment, actor, None, {"seat": n, "because": why})
            continue
        before = {"manual_key": seat_payment.manual_key}
        seat_payment.manual_key = seats.seat_key(keep, n)
        seat_payment.save(update_fields=["manual_key", "updated_at"])
        seats.audit_seat_change(
            seat_payment, actor, before, {"manual_key": seat_payment.manual_key, "because": because}
        )
    summary = {s.get("seat"): s for s in extra.seat_assignments or [] if isinstance(s, dict)}
    summary = {n: s for n, s in summary.items() if isinstance(n, int) and n not in stays}
    summary.update({s.get("seat"): s for s in keep.seat_assignments or [] if isinstance(s, dict)})
    keep.seat_assignments = [summary[n] for n in sorted(n for n in summary if isinstance(n, int))]


def _merge_review_keys(keep: Payment, extra: Payment, actor: Actor) -> None:
    """Review items keyed by a payment's pk (``group:<pk>``, ``duplicate:<pk>``) follow the row
    that is kept, with their state: otherwise detection would open a second card for ``keep``
    next to the one an operator may already have settled. If ``keep`` has its own, that one
    stands and ``extra``'s, if still open, is closed as merged."""
    for prefix in ("group", "duplicate"):
        item = ReviewItem.objects.select_for_update().filter(key=f"{prefix}:{extra.pk}").first()
        if item is None:
            continue
        if not ReviewItem.objects.filter(key=f"{prefix}:{keep.pk}").exists():
            item.key = f"{prefix}:{keep.pk}"
            item.save(update_fields=["key"])
        else:
            _auto_close(item, "merged", actor)  # resolution "auto:merged"; no-op unless open


def _merge_payment_rows(rows: list[Payment], actor: Actor = SYSTEM) -> Payment:
    """Two rows turned out to be one payment (each knew different ids): fold into the oldest.

    The caller re-derives the kept row's registration (a merge counts as a change); a registration
    that only the folded row was attached to has lost that payment and is re-derived here."""
    keep, extras = rows[0], rows[1:]
    lost: set[int] = set()
    for extra in extras:
        moved = {}
        for f in ("checkout_session_id", "payment_intent_id", "charge_id"):
            if getattr(extra, f) and not getattr(keep, f):
                moved[f] = getattr(extra, f)
        Refund.objects.filter(payment=extra).update(payment=keep)
        Dispute.objects.filter(payment=extra).update(payment=keep)
        ReviewItem.objects.filter(payment=extra).update(payment=keep)
        _merge_review_keys(keep, extra, actor)
        _merge_seats(keep, extra, actor)
        for f in ("event_id", "registration_id"):
            if getattr(extra, f) and not getattr(keep, f):
                setattr(keep, f, getattr(extra, f))
        if extra.registration_id and extra.registration_id != keep.registration_id:
            lost.add(extra.registration_id)
        _merge_payment_fields(keep, extra)
        # On each registration involved: the one that lost the payment sees why its status moved.
        keep_reg = keep.registration if keep.registration_id else None
        lost_reg = extra.registration if extra.registration_id not in (None, keep.registration_id) else None
        owner = keep_reg.reference if keep_reg else "nobody yet"
        after = {"kept": str(keep), "folded": str(extra), "belongs to": owner}
        for registration in [r for r in (keep_reg, lost_reg) if r is not None] or [None]:
            audit("payment.merged", actor=actor, registration=registration, obj=keep, after=after)
        extra.delete()
        for f, v in moved.items():
            setattr(keep, f, v)
    if Payment.objects.filter(manual_key__startswith=f"seat:{keep.pk}:").exists():
        # Its seats (now all keep's) mirror the merged payment's state and full refund at once,
        # whatever the caller does next: re-total the refunds both rows brought, then re-sync.
        _refresh_adjustments(keep)
        keep.save()
        for holder in seats.after_payment(keep, actor):
            recompute(holder, actor)
    else:
        keep.save()
    for other in Registration.objects.filter(pk__in=lost).order_by("pk"):
        recompute(other, actor)
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
    purged = getattr(other, "personal_data_removed_at", None)
    if purged and not payment.personal_data_removed_at:  # a row folded in was purged: so is the whole payment
        payment.personal_data_removed_at = purged
        for attr in Payment.PERSONAL_FIELDS:
            setattr(payment, attr, "")
    items = [[str(price), int(quantity)] for price, quantity in getattr(other, "line_items", None) or []]
    if items and not payment.line_items and payment.quantity is None:
        # The first full list wins (a later one can be a list answer's first page only). A payment
        # stored with a quantity before line items were kept keeps the count it was given.
        # Before ``quantity`` is filled: a row folded in brings its line items with its count.
        payment.line_items = items
        changed.append("line_items")
    for attr in FILLED_FIELDS:
        if not (payment.personal_data_removed_at and attr in Payment.PERSONAL_FIELDS):
            fill(attr, getattr(other, attr, None))
    if not payment.personal_data_removed_at:  # a purged payment's contact details stay removed
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
    cleared = getattr(other, "cleared_at", None)  # earliest report wins: the same whatever the order
    if cleared and (payment.cleared_at is None or cleared < payment.cleared_at):
        payment.cleared_at = cleared
        changed.append("cleared_at")
    raw = getattr(other, "raw_ref", "")
    refs = sorted(set(payment.raw_refs) | set(getattr(other, "raw_refs", []) or []) | ({raw} if raw else set()))
    if refs != payment.raw_refs:
        payment.raw_refs = refs  # provenance only: not counted as a change
    return changed


def _count_seats(payment: Payment, actor: Actor, record_kept: bool = False) -> tuple[bool, AuditLog | None]:
    """A checkout's seats from its line items, once its event is known (``seats.seats_in_line_items``:
    a lunch or a T-shirt bought with the ticket is not a seat). True when ``payment.quantity``
    changed (not saved here). Counted again whenever the payment is applied or a price mapping
    is saved, so it always follows the mappings; the same line items and mappings always give
    the same count. A line item left out, or several products counted with nothing saying which
    is the ticket, is written in the payer's history (the row, whose object id a payment not
    inserted yet gets from the caller). ``record_kept`` (a price mapping was saved): a count held
    back because seats were handed out is written in the history too, for the operator to settle."""
    if not payment.line_items or payment.event_id is None or payment.manual_key:
        return False, None
    count = seats.seats_in_line_items(payment.event, payment.line_items)
    if count.quantity == payment.quantity:
        return False, None
    if payment.quantity and (count.quantity or 1) < payment.quantity and seats.seats_handed_out(payment):
        # Seat links or seats of it are out already: they are never taken back here (a seat
        # holder would silently stop following the payment's refunds).
        if record_kept:
            audit(
                "payment.seats_counted",
                actor=actor,
                registration=payment.registration,
                event=payment.event,
                obj=payment,
                after={
                    "payment": str(payment),
                    **count.details(),
                    "seats_kept": payment.quantity,
                    "because": "seats of it were already handed out: settle the extra seats with the payer",
                },
            )
        return False, None
    before = payment.quantity
    payment.quantity = count.quantity
    row = None
    if count.left_out or count.unsure or before is not None:
        row = audit(
            "payment.seats_counted",
            actor=actor,
            registration=payment.registration if payment.registration_id else None,
            event=payment.event,
            obj=payment,
            before={"seats_counted": before} if before is not None else None,
            after={"payment": str(payment), **count.details()},
        )
    return True, row


def _refresh_adjustments(payment: Payment) -> list[str]:
    """Link refunds/disputes that arrived before (or after) the payment, and re-total them.

    A payment not inserted yet (``_state.adding``) can only have refunds and disputes that
    arrived before it: one query asks whether there are any (there rarely are); if so, the
    payment is inserted so they can point at it."""
    ids = Q()
    if payment.payment_intent_id:
        ids |= Q(payment_intent_id=payment.payment_intent_id)
    if payment.charge_id:
        ids |= Q(charge_id=payment.charge_id)
    if payment._state.adding:
        if not ids:
            return []
        waiting = Refund.objects.filter(ids, payment__isnull=True).values_list("pk")
        if not waiting.union(Dispute.objects.filter(ids, payment__isnull=True).values_list("pk"))[:1]:
            return []
        payment.save()
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
    # What ``engine.recompute``'s payments query annotates, known here without it: a payment just
    # created with a refund that failed before it arrived is not recomputed as one with no facts.
    payment.has_fallen_refunds = any(not r.cumulative and r.status in FALLEN_REFUND for r in refunds)
    if payment.has_fallen_refunds:
        # The charge's cumulative total counted a refund that later failed; the refunds' own
        # statuses are the better truth then.
        refunded = individual
    else:
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


def _attach_payment(
    payment: Payment, actor: Actor, source: str, rows: list | None = None
) -> tuple[Registration | None, bool]:
    """Find the event and registration for a payment. Returns (registration, unmatched_event).
    Once the event is found, a checkout's seats are counted from its line items (an audit row
    that says so goes in ``rows``, for the caller to give the id of a payment inserted later)."""
    if payment.event_id is None:
        event, ignored = resolve_event(payment.mapping_keys)
        if event is None:
            if not ignored and payment.state != Payment.State.EXPIRED:
                _flag_unmatched(payment, actor)
            return None, not ignored
        payment.event = event
        row = _count_seats(payment, actor)[1]
        if row is not None and rows is not None:
            rows.append(row)
        if payment.registration_id or payment.state == Payment.State.EXPIRED:
            _save(payment, ["event", "quantity"])
    if payment.registration_id:
        return payment.registration, False
    if payment.state == Payment.State.EXPIRED:
        return None, False  # an abandoned checkout is recorded but registers nobody
    emails = [payment.email] if payment.email else []
    reg = _registration_for(
        payment.event, emails, payment.client_reference_id, payment.name, payment.phone, source, actor
    )
    if reg is None:
        _save(payment, ["event", "quantity"])
    else:
        payment.registration = reg
        _save(payment, ["event", "quantity", "registration"])
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


def _save(payment: Payment, fields: list[str]):
    """Insert a new payment with everything known so far (one statement where an INSERT and an
    UPDATE were), or save ``fields`` of a stored one."""
    if payment._state.adding:
        payment.save()
    else:
        payment.save(update_fields=[*fields, "updated_at"])


def _signal_time(signal) -> datetime:
    return signal.occurred_at or timezone.now()


def _apply_refund(signal: PaymentSignal, actor: Actor, source: str) -> ApplyResult:
    if signal.refund_id:
        refund, created = Refund.objects.select_for_update().get_or_create(
            refund_id=signal.refund_id,
            defaults=dict(
                payment_intent_id=signal.payment_intent_id,
                charge_id=signal.charge_id,
                amount=signal.amount_refunded,
                status=signal.refund_status or "succeeded",
                reason=signal.reason,
                failure_reason=signal.failure_reason,
                occurred_at=_signal_time(signal),
            ),
        )
        changed = []
        if not created:
            if REFUND_STATUS_RANK.get(signal.refund_status, 0) > REFUND_STATUS_RANK.get(refund.status, 0):
                refund.status = signal.refund_status
                changed.append("status")
            if signal.failure_reason and not refund.failure_reason:  # why it failed (any order)
                refund.failure_reason = signal.failure_reason
                changed.append("failure_reason")
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
    payment = _payment_for_adjustment(signal, actor)
    if payment is not None:
        _finish_payment(payment, actor, result, source)
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
                **({"failure_reason": refund.failure_reason} if refund.failure_reason else {}),
                "payment_known": payment is not None,
            },
        )
    return result


def _apply_dispute(signal: PaymentSignal, actor: Actor, source: str) -> ApplyResult:
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
    payment = _payment_for_adjustment(signal, actor)
    if payment is not None:
        _finish_payment(payment, actor, result, source)
    if created or changed:
        audit(
            "payment.dispute_recorded",
            actor=actor,
            registration=result.registration,
            obj=dispute,
            after={"dispute": dispute.dispute_id, "status": dispute.status, "amount": dispute.amount},
        )
    return result


def _payment_for_adjustment(signal: PaymentSignal, actor: Actor) -> Payment | None:
    rows = _payment_lookup({"payment_intent_id": signal.payment_intent_id, "charge_id": signal.charge_id})
    if not rows:
        return None
    payment = _merge_payment_rows(rows, actor) if len(rows) > 1 else rows[0]
    if signal.charge_id and not payment.charge_id:
        payment.charge_id = signal.charge_id
        payment.save(update_fields=["charge_id", "updated_at"])
    return payment


def _finish_payment(payment: Payment, actor: Actor, result: ApplyResult, source: str, recorded=None):
    """Adjustments, event and registration, derived status. A new payment is inserted here, at
    the latest after it is attached; ``recorded`` (its audit row, still unsent) gets its id then."""
    adj = _refresh_adjustments(payment)
    if adj:
        payment.save()
        result.changed.extend(f for f in adj if f not in result.changed)
    counted_rows = []
    reg, unmatched = _attach_payment(payment, actor, source, counted_rows)
    if payment._state.adding:  # nothing matched it to a registration: insert it as it is
        payment.save()
    for row in counted_rows:  # written before the payment had its id and registration
        row.object_id, row.registration = str(payment.pk), reg
        if row.pk is not None:  # not inside a batch: already inserted
            row.save(update_fields=["object_id", "registration"])
    if recorded is not None:
        recorded.object_id = str(payment.pk)
    result.unmatched_event = unmatched
    result.registration = reg
    if reg is not None:
        result.status_before = reg.status
        # A registration created just now for this payment has no other facts.
        new_with = ([payment], []) if getattr(reg, "new_in_transaction", False) else None
        result.status_after = recompute(reg, actor, new_with=new_with)
    # Seats handed out from a group payment follow its state (a bank debit clearing or failing).
    for other in seats.after_payment(payment, actor):
        recompute(other, actor)


def apply_payment(signal: PaymentSignal, actor: Actor = SYSTEM, source: str = Source.WEBHOOK) -> ApplyResult:
    """Apply what Stripe (or an operator) said about a payment. Safe to call any number of times."""

    def run():
        if signal.status == "refunded":
            return _apply_refund(signal, actor, source)
        if signal.status == "disputed":
            return _apply_dispute(signal, actor, source)
        if signal.status not in PAYMENT_STATE_RANK:
            raise ValueError(f"unknown payment signal status {signal.status!r}")
        ids = {
            "checkout_session_id": signal.checkout_session_id,
            "payment_intent_id": signal.payment_intent_id,
            "charge_id": signal.charge_id,
        }
        rows = _payment_lookup(ids)
        created = not rows
        merged = len(rows) > 1
        if created:
            payment = Payment(source=source, state=signal.status)
        else:
            payment = _merge_payment_rows(rows, actor) if merged else rows[0]
        refs_before = list(payment.raw_refs)
        changed = _merge_payment_fields(payment, signal)
        if not created and _count_seats(payment, actor)[0]:  # a price mapped since it was counted
            changed.append("quantity")
        if not created and (changed or payment.raw_refs != refs_before):
            payment.save()
        # A new payment is inserted once it is attached (``_finish_payment``), in one statement.
        result = ApplyResult(fact=payment, created=created, changed=[] if created else changed)
        if not created and not changed and not merged and payment.registration_id:
            # A redelivery of something already applied: facts are unchanged, so the derived
            # status and review items are too — nothing to recompute.
            result.registration = payment.registration
            result.status_before = result.status_after = result.registration.status
            return result
        recorded = None
        if created or changed:
            recorded = audit(
                "payment.recorded" if created else "payment.updated",
                actor=actor,
                registration=payment.registration,
                obj=payment,
                after={"payment": str(payment), "state": payment.state, "amount": payment.amount, "changed": changed},
            )
        _finish_payment(payment, actor, result, source, recorded if created else None)
        return result

    return _retrying(lambda: _batched(run))
