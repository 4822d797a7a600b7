"""Operator resolutions of review items. Each is a domain function: one transaction, row locks,
an audit row with the operator as actor, then the affected registrations are recomputed.

Each runs in ``engine._retrying`` (``@retried``): a deadlock lost to a webhook (one holding the
event's suggested-match search lock and wanting this registration's row, while this action holds
the row and wants the search lock) or a lost unique-key race runs the action again instead of
failing the operator's request."""

from __future__ import annotations

import functools

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from notifications.models import NotificationLog

from .audit import Actor, audit
from .detection import (
    CLOSED_WITH_REFUND,
    FAILED_REFUNDS,
    FALLEN_REFUND,
    REFUND_SENT,
    REFUSED_REFUNDS,
    _auto_close,
    _ensure,
    close_failed_refund_card,
    end_refund_attempt,
    refund_attempt,
    reopen_for_failed_refund,
    sides,
)
from .engine import _retrying, locked_registrations
from .models import (
    Attendee,
    AttendeeAlias,
    AuditLog,
    Booking,
    Payment,
    Refund,
    Registration,
    ReviewItem,
    SeatReference,
    Source,
)
from .money import format_money
from .seat_takeover import take_over_failed_seats
from .services import learn_alias, recompute


class ResolutionError(Exception):
    """The resolution cannot be applied (already resolved, wrong kind, bad input)."""


def retried(fn):
    """Run the action in a transaction that runs again after a deadlock or a unique-key race."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return _retrying(lambda: fn(*args, **kwargs))

    return wrapper


def _lock_open_item(item_id: int, kind: str | None = None) -> ReviewItem:
    item = ReviewItem.objects.select_for_update().filter(pk=item_id).first()
    if item is None:
        raise ResolutionError("This review item no longer exists.")
    if item.state != ReviewItem.State.OPEN:
        raise ResolutionError("This review item was already resolved.")
    if kind and item.kind != kind:
        raise ResolutionError(f"This is a {item.get_kind_display()} item, not {kind}.")
    return item


def close_item(item: ReviewItem, resolution: str, actor: Actor, note: str = "", state=ReviewItem.State.RESOLVED):
    item.state = state
    item.resolution = resolution
    item.resolution_note = note
    item.resolved_by = actor.user if getattr(actor.user, "pk", None) else None
    item.resolved_at = timezone.now()
    item.save()
    audit(
        f"review.resolved.{resolution}",
        actor=actor,
        registration=item.registration,
        obj=item,
        event=item.event,
        after={"kind": item.kind, "key": item.key, "note": note},
    )


def merge_registrations(keep: Registration, other: Registration, actor: Actor, reason: str) -> Registration:
    """Fold ``other`` into ``keep`` (same event): its facts move, its emails become aliases of
    ``keep``'s attendee, and the emptied registration is removed (the audit trail keeps it)."""
    if keep.event_id != other.event_id:
        raise ResolutionError("Only registrations for the same event can be merged.")
    first, second = sorted([keep.pk, other.pk])
    locked = {r.pk: r for r in Registration.objects.select_for_update().filter(pk__in=[first, second])}
    keep, other = locked[keep.pk], locked[other.pk]
    before = {
        "kept": keep.reference,
        "merged": other.reference,
        "merged_email": other.attendee.email,
        # Links already emailed name the merged attendee by id (unsubscribe): this row, which
        # follows ``keep`` through later merges, is how they find the surviving attendee.
        "merged_attendee": other.attendee_id,
        # ... and the merged registration by id (status page links): ``registration_merged_into``.
        "merged_registration": other.pk,
        # ... and its phone number, which may not live on anywhere else (the survivor keeps its
        # own): a STOP texted from it finds the survivor (``identity.attendees_with_phone``).
        "merged_phone": other.attendee.phone,
    }
    # Other people's open suggestions about ``other`` lose their counterpart below: re-derive
    # their registrations after the merge, so those suggestions close instead of staying open.
    suggested_with = set(
        ReviewItem.objects.filter(counterpart=other, state=ReviewItem.State.OPEN)
        .exclude(registration__in=[keep.pk, other.pk])
        .exclude(registration__isnull=True)
        .values_list("registration_id", flat=True)
    )
    _follow_same_person_cards(keep, other, actor)
    Payment.objects.filter(registration=other).update(registration=keep)
    SeatReference.objects.filter(registration=other).update(registration=keep)  # claimed seats stay claimed
    Booking.objects.filter(registration=other).update(registration=keep)
    AuditLog.objects.filter(registration=other).update(registration=keep)
    ReviewItem.objects.filter(registration=other).update(registration=keep)
    ReviewItem.objects.filter(counterpart=other).update(counterpart=None)
    # The messages they were sent stay in the person's history. One still queued was written for
    # ``other`` (its links, its missing half): it is not sent, and says so in ``keep``'s history.
    # One a worker is sending right now (leased) is left to it: it loses its registration below,
    # and a retry of it is suppressed then (``delivery._no_longer_needed``).
    now = timezone.now()
    messages = NotificationLog.objects.filter(registration=other)
    messages.exclude(status=NotificationLog.Status.QUEUED).update(registration=keep)
    messages.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lt=now), status=NotificationLog.Status.QUEUED
    ).update(
        registration=keep,
        status=NotificationLog.Status.SUPPRESSED,
        error=f"Not sent: {other.reference} was merged into {keep.reference}",
        status_at=now,
        next_attempt_at=None,
    )
    survivor, gone = keep.attendee, other.attendee
    learn_alias(survivor, gone.email, reason, actor, keep)
    # The addresses learned for ``gone`` already have alias rows (``learn_alias`` would leave
    # them be): they move to the survivor, before ``gone`` may be deleted below and take its
    # rows with it. Also when ``gone`` stays for its registrations at other events: its primary
    # address now names the survivor (an alias wins over a primary), and so do all the others.
    _move_aliases(gone, survivor, reason, actor, keep)
    # One person: their registrations at other events go with them, so that every address of
    # theirs leads to one attendee with all their registrations. Otherwise a later signal at
    # such an event under one of ``gone``'s addresses (which now name the survivor) would start a
    # second registration there next to theirs, and could be asked to pay again. Where the
    # survivor is registered at that event too, both stay as they are (one registration per
    # attendee and event, and two people's money is not folded together here) and a "same person
    # registered twice" card asks an operator to merge those two as well.
    twice = _move_other_registrations(gone, survivor, other, reason, actor)
    if not survivor.phone and gone.phone:
        survivor.phone = gone.phone
        survivor.save(update_fields=["phone"])
    # One person: a "stop" said under either address or number holds for both.
    carried = _carry_opt_outs(gone, survivor, actor, keep)
    if twice:
        # ``gone`` lives on for those registrations (reminders for them go to its address and
        # phone): a stop said by either of them holds for it too.
        _carry_opt_outs(survivor, gone, actor, keep)
    other_attendee = other.attendee
    other.delete()
    if not other_attendee.registrations.exists():
        # The address lives on as an alias of the survivor, and so do the messages sent to it;
        # one still queued (for a registration that moved to the survivor) is the survivor's
        # too: whether it still goes is decided for the survivor (``delivery._no_longer_needed``),
        # and a stop about it (Twilio's 21610, a complaint) is the survivor's.
        NotificationLog.objects.filter(attendee=other_attendee).update(attendee=survivor)
        other_attendee.delete()
    stops = {"email_opt_out": "email", "sms_opt_out": "text messages"}
    merged_who = ", ".join(x for x in (before["merged_email"], before["merged_phone"]) if x)
    kept_who = ", ".join(x for x in (survivor.email, survivor.phone) if x)
    audit(
        "registration.merged",
        actor=actor,
        registration=keep,
        obj=keep,
        before=before,
        after={"registration": keep.reference, "reason": reason, **({"opt_outs_carried": carried} if carried else {})},
        # What the operator reads in the timeline: which registration and address went where.
        message=f"{before['merged']} ({merged_who}) merged into {keep.reference} ({kept_who}): "
        f"{reason}" + (f". Stops carried over: {', '.join(stops[f] for f in carried)}" if carried else ""),
    )
    # The payer's failed group payment and their new payment, made under the other address, are
    # now one registration's: the new one takes over the seats friends booked with the old links.
    holders = take_over_failed_seats(keep.pk, keep.event_id, actor)
    recompute(keep, actor)
    for reg in holders:
        if reg.pk != keep.pk:
            recompute(reg, actor)
    for reg in Registration.objects.filter(pk__in=suggested_with).order_by("pk"):
        recompute(reg, actor)
    for theirs, ours in twice:
        _ensure(
            _same_person_key(theirs.pk, ours.pk),
            ReviewItem.Kind.SAME_PERSON_TWICE,
            theirs,
            actor,
            explanation=_twice_explanation(
                f"{gone.email} was merged into {survivor.email} (one person), and both were registered for "
                f"{theirs.event}",
                theirs,
                ours,
            ),
            counterpart=ours,
            data={"merged_attendee": gone.pk, "survivor": survivor.pk},
        )
        recompute(theirs, actor)
        recompute(ours, actor)
    return keep


def _twice_explanation(why: str, first: Registration, second: Registration) -> str:
    return (
        f"{why}: this person now has two registrations there ({first.reference} and {second.reference}). "
        "Neither was changed and nothing was refunded. Check both, then merge them into one (payments and "
        "bookings together: if both paid, the money stays as it is for you to decide), or keep both."
    )


def _same_person_key(a: int, b: int) -> str:
    """The "same person registered twice" card of two registrations (either order)."""
    return f"same_person:{min(a, b)}:{max(a, b)}"


def _follow_same_person_cards(keep: Registration, other: Registration, actor: Actor) -> None:
    """An open "same person registered twice" card naming ``other`` now names ``keep``, which
    holds what ``other`` had: still this person's second registration there. When ``keep`` is
    the card's other registration, the two are one now: the card closes."""
    cards = ReviewItem.objects.select_for_update().filter(
        Q(registration=other) | Q(counterpart=other),
        kind=ReviewItem.Kind.SAME_PERSON_TWICE,
        state=ReviewItem.State.OPEN,
    )
    for item in cards.order_by("pk"):
        pair = [keep.pk if pk == other.pk else pk for pk in (item.registration_id, item.counterpart_id)]
        if None in pair:  # the other one is gone already: nothing to follow
            continue
        if pair[0] == pair[1]:
            _auto_close(item, "the two registrations were merged", actor)
            continue
        key = _same_person_key(*pair)
        if ReviewItem.objects.filter(key=key).exclude(pk=item.pk).exists():
            _auto_close(item, "another card names this pair", actor)
            continue
        regs = Registration.objects.select_related("attendee", "event").in_bulk(pair)
        item.key, item.registration, item.counterpart = key, regs[pair[0]], regs[pair[1]]
        item.explanation = _twice_explanation(
            f"{item.registration.attendee.email} and {item.counterpart.attendee.email} are one person (merged by "
            f"an operator), and both are registered for {keep.event}",
            item.registration,
            item.counterpart,
        )
        item.save(update_fields=["key", "registration", "counterpart", "explanation"])
        audit(
            "review.updated",
            actor=actor,
            registration=keep,
            obj=item,
            after={"explanation": item.explanation, "because": f"{other.reference} merged into {keep.reference}"},
        )


def _carry_opt_outs(source: Attendee, target: Attendee, actor: Actor, registration: Registration) -> list[str]:
    """A stop said by ``source`` holds for ``target`` too (one person). Returns the flags carried."""
    carried = [f for f in ("email_opt_out", "sms_opt_out") if getattr(source, f) and not getattr(target, f)]
    if not carried:
        return carried
    for f in carried:
        setattr(target, f, True)
    target.opted_out_at = target.opted_out_at or source.opted_out_at or timezone.now()
    target.save(update_fields=[*carried, "opted_out_at"])
    audit(
        "attendee.opted_out",
        actor=actor,
        registration=registration,
        obj=target,
        before={f: False for f in carried},
        after={**{f: True for f in carried}, "via": f"merged with {source.email}"},
        message=f"Stopped {' and '.join(f.split('_')[0] for f in carried)} reminders (said under {source.email})",
    )
    return carried


def _move_other_registrations(
    gone: Attendee, survivor: Attendee, merged: Registration, reason: str, actor: Actor
) -> list[tuple[Registration, Registration]]:
    """Move ``gone``'s registrations at other events to ``survivor``. Where the survivor has one
    at that event too, the pair (survivor's, gone's) is returned instead: both stay."""
    taken = {r.event_id: r for r in Registration.objects.filter(attendee=survivor).select_related("event")}
    rows = Registration.objects.select_for_update().filter(attendee=gone).exclude(pk=merged.pk).order_by("pk")
    twice = []
    for reg in rows:
        if reg.event_id in taken:
            twice.append((taken[reg.event_id], reg))
            continue
        reg.attendee = survivor
        reg.save(update_fields=["attendee", "updated_at"])
        audit(
            "registration.attendee_merged",
            actor=actor,
            registration=reg,
            obj=reg,
            before={"attendee": gone.email},
            after={"attendee": survivor.email, "reason": reason},
            message=f"Moved from {gone.email} to {survivor.email} (one person, merged at {merged.event}): {reason}",
        )
    return twice


def _move_aliases(gone: Attendee, survivor: Attendee, reason: str, actor: Actor, registration: Registration) -> None:
    # ``gone``'s own address may already name someone else: an earlier survivor, when ``gone``
    # was merged before and stayed for a registration at an event both had. This merge is the
    # latest word on who that address is (``learn_alias`` leaves an address known to anyone be).
    aliases = AttendeeAlias.objects.select_for_update(of=("self",)).filter(Q(attendee=gone) | Q(email=gone.email))
    for alias in aliases.exclude(attendee=survivor).select_related("attendee").order_by("pk"):
        if alias.email == survivor.email:  # the survivor's own address names it already
            alias.delete()
            continue
        before = {"alias": alias.email, "attendee": alias.attendee.email, "reason": alias.reason}
        alias.attendee, alias.reason = survivor, reason[:200]
        alias.save(update_fields=["attendee", "reason"])
        audit(
            "attendee.alias_learned",
            actor=actor,
            registration=registration,
            obj=survivor,
            before=before,
            after={"alias": alias.email, "attendee": survivor.email, "reason": reason},
        )


@retried
def accept_suggested_match(item_id: int, actor: Actor) -> Registration:
    """Same person: merge the item's two registrations (a suggested match, or one person's two
    registrations at one event left by an earlier merge)."""
    with transaction.atomic():
        item = _lock_open_item(item_id)
        if item.kind not in (ReviewItem.Kind.SUGGESTED_MATCH, ReviewItem.Kind.SAME_PERSON_TWICE):
            raise ResolutionError(f"This is a {item.get_kind_display()} item, not a pair to merge.")
        if item.registration is None or item.counterpart is None:
            close_with = "dismiss" if item.kind == ReviewItem.Kind.SUGGESTED_MATCH else "keep"
            raise ResolutionError(
                f"One of the two registrations no longer exists, so there is nothing to merge: {close_with} it."
            )
        keep, other = item.registration, item.counterpart
        close_item(item, "merged", actor)
        return merge_registrations(keep, other, actor, reason=f"merged by operator (review #{item.pk})")


@retried
def dismiss(item_id: int, actor: Actor, note: str = "") -> ReviewItem:
    """Not the same person: remembered, never suggested again. Only suggestions can be
    dismissed; every other kind has its own resolution (a dispute needs a note, money a decision)."""
    with transaction.atomic():
        item = _lock_open_item(item_id, ReviewItem.Kind.SUGGESTED_MATCH)
        close_item(item, "dismissed", actor, note, state=ReviewItem.State.DISMISSED)
        for reg in filter(None, [item.registration, item.counterpart]):
            recompute(reg, actor, detect=False)
        return item


@retried
def acknowledge(
    item_id: int, actor: Actor, note: str, kind: str | None = None, resolution: str = "acknowledged"
) -> ReviewItem:
    """Close an item with a note (dispute acknowledged, payment kept, kept as credit…)."""
    with transaction.atomic():
        item = _lock_open_item(item_id, kind)
        close_item(item, resolution, actor, note)
        for reg in filter(None, [item.registration, item.counterpart]):
            recompute(reg, actor, detect=False)
        return item


# --- Resolutions used by the operator workspace (/ops/) ----------------------------------------
MANUAL_PAYMENT_METHODS = (
    Payment.Method.CASH,
    Payment.Method.CARD_IN_PERSON,
    Payment.Method.COMPLIMENTARY,
    Payment.Method.OTHER,
)


def _money(amount: int, currency: str) -> str:
    return format_money(amount, currency)


def keep_duplicate(item_id: int, actor: Actor, note: str = "") -> ReviewItem:
    """Both payments stand (for example a second seat bought on purpose)."""
    return acknowledge(item_id, actor, note, kind=ReviewItem.Kind.DUPLICATE_PAYMENT, resolution="kept")


def keep_both_registrations(item_id: int, actor: Actor, note: str = "") -> ReviewItem:
    """Same person registered twice: both registrations stand as they are (nothing is merged)."""
    return acknowledge(item_id, actor, note, kind=ReviewItem.Kind.SAME_PERSON_TWICE, resolution="kept")


def keep_as_credit(item_id: int, actor: Actor, note: str = "") -> ReviewItem:
    """Paid but cancelled: keep the money as credit for a later event; nothing is refunded."""
    return acknowledge(item_id, actor, note, kind=ReviewItem.Kind.PAID_CANCELLED, resolution="kept_as_credit")


def acknowledge_failed_refund(item_id: int, actor: Actor, note: str) -> ReviewItem:
    """A refund made in the Stripe Dashboard failed: the operator gave the money back another way
    (or decided not to) and records what they did (note required)."""
    if not (note or "").strip():
        raise ResolutionError(
            "Write a note saying what you did about the failed refund (for example “refunded again in Stripe”)."
        )
    return acknowledge(item_id, actor, note.strip(), kind=ReviewItem.Kind.REFUND_FAILED)


def acknowledge_dispute(item_id: int, actor: Actor, note: str) -> ReviewItem:
    """A dispute is answered in Stripe; here the operator records what they did (note required)."""
    if not (note or "").strip():
        raise ResolutionError("Write a note saying what you did about the dispute (for example “evidence sent”).")
    return acknowledge(item_id, actor, note.strip(), kind=ReviewItem.Kind.DISPUTE)


def refundable_payments(item: ReviewItem) -> list[Payment]:
    """The paid payments a refund from this item may target (duplicate: the later payment;
    paid but cancelled: every paid payment of the registration). Not all are refundable
    through Stripe: see ``stripe_refundable``."""
    if item.kind == ReviewItem.Kind.DUPLICATE_PAYMENT:
        return [p for p in duplicate_refund_choices(item) if p.is_paid]
    if item.kind == ReviewItem.Kind.PAID_CANCELLED and item.registration is not None:
        payments = item.registration.payments.order_by("pk")
        return [p for p in payments if p.is_paid and p.method != Payment.Method.GROUP_SEAT]
    return []


def duplicate_refund_choices(
    item: ReviewItem, first: Payment | None = None, second_of_open_card: set | None = None
) -> list[Payment]:
    """The payments a duplicate-payment card offers to give back: the one ``duplicate_to_refund``
    names, and the first payment too when that is a different Stripe payment of the attendee's
    own that can still be refunded, so the operator can give back whichever the attendee asks for
    (the card payment made while their bank debit was stuck, say, rather than the debit).
    ``second_of_open_card``: the payments that are the second payment of an open duplicate card,
    when the caller (the queue, for all its cards at once) has them; else they are looked up."""
    first = first or Payment.objects.filter(pk=(item.data or {}).get("first_payment")).first()
    if first is not None and second_of_open_card is None:
        second_of_open_card = open_duplicate_seconds([first.pk])
    payment = duplicate_to_refund(item, first)
    choices = [payment] if payment is not None else []
    if (
        first is not None
        and first.pk not in {p.pk for p in choices}
        and first.method != Payment.Method.GROUP_SEAT
        # A group payment pays for friends' seats too (some maybe not handed out yet): not
        # offered as "the first payment" of someone's duplicate.
        and (first.quantity or 1) < 2
        and first.is_paid
        and stripe_refundable(first)
        # Three payments in a day (A, B, C): B is the second payment of its own open card, which
        # settles it; refunded from C's card, C's card would be closed though A and C still
        # stand, with nothing left open about them.
        and first.pk not in second_of_open_card
    ):
        choices.append(first)
    return choices


def open_duplicate_seconds(payment_ids) -> set:
    """Of ``payment_ids``, those that are the second payment of an open duplicate-payment card."""
    return set(
        ReviewItem.objects.filter(
            kind=ReviewItem.Kind.DUPLICATE_PAYMENT, state=ReviewItem.State.OPEN, payment_id__in=list(payment_ids)
        ).values_list("payment_id", flat=True)
    )


def duplicate_to_refund(item: ReviewItem, first: Payment | None = None) -> Payment | None:
    """The payment a duplicate-payment item refunds: the second one, unless that is a seat of
    someone's group payment (amount 0, nothing of theirs to give back): then the attendee's own
    payment (``first``, or the item's first payment) is what they paid twice with."""
    payment = item.payment
    if payment is not None and payment.method == Payment.Method.GROUP_SEAT:
        return first or Payment.objects.filter(pk=item.data.get("first_payment")).first()
    return payment


def stripe_refundable(payment: Payment) -> bool:
    return (
        payment.method == Payment.Method.STRIPE
        and bool(payment.payment_intent_id or payment.charge_id)
        and payment.net_amount > 0
    )


def check_refund(item_id: int, payment_id: int, amount: int) -> tuple[ReviewItem, Payment]:
    """Validate a refund before any money moves: the item is open and of a refundable kind, the
    payment belongs to it and went through Stripe, and 0 < amount ≤ what is left to refund."""
    item = ReviewItem.objects.select_related("payment", "registration").filter(pk=item_id).first()
    if item is None:
        raise ResolutionError("This review item no longer exists.")
    if item.state != ReviewItem.State.OPEN:
        raise ResolutionError("This review item was already resolved.")
    if item.kind not in (ReviewItem.Kind.DUPLICATE_PAYMENT, ReviewItem.Kind.PAID_CANCELLED):
        raise ResolutionError(f"A {item.get_kind_display()} item cannot be resolved with a refund.")
    payment = next((p for p in refundable_payments(item) if p.pk == payment_id), None)
    if payment is None:
        raise ResolutionError("That payment does not belong to this review item.")
    if payment.method != Payment.Method.STRIPE:
        raise ResolutionError(
            f"This payment was taken as {payment.get_method_display().lower()}, not through Stripe, so it cannot "
            "be refunded from here. Give the money back in person and keep the item with a note."
        )
    if not (payment.payment_intent_id or payment.charge_id):
        raise ResolutionError("Stripe has not told us this payment's id yet; try again after its webhook arrives.")
    remaining = payment.net_amount
    if remaining <= 0:
        raise ResolutionError("This payment has already been refunded in full.")
    if amount <= 0:
        raise ResolutionError("The refund amount must be more than zero.")
    if amount > remaining:
        raise ResolutionError(
            f"At most {_money(remaining, payment.currency)} is left to refund on this payment "
            f"(you asked for {_money(amount, payment.currency)})."
        )
    return item, payment


def refund_idempotency_key(item_id: int, payment_id: int, attempt: int = 1) -> str:
    """One key per (review item, payment, attempt): a double click, a retry after a timeout whose
    outcome was unknown, or a second operator entering another amount all reach Stripe with the
    same key, so Stripe returns the first refund (or refuses the changed amount) and never makes a
    second. ``attempt`` (``detection.refund_attempt``) is 1 until a refund made from the card fails
    (Stripe would answer that key with the refund that failed) or Stripe refuses the card's request
    (it would answer that key with the refusal, ``note_refund_refused``): each starts a new one."""
    key = f"jlf-review-{item_id}-payment-{payment_id}-refund"
    return key if attempt <= 1 else f"{key}-{attempt}"


# ``REFUND_SENT`` (from ``detection``, which drops it when a failed refund reopens the card): the
# ``ReviewItem.data`` key set before a card's current attempt first sends a refund to Stripe.


def note_refund_sent(item_id: int) -> None:
    """Remember, before the refund request leaves, that this card sent one to Stripe. If its answer
    is lost (a timeout, the web worker killed), Stripe may have refunded, and once the card's
    idempotency key is 24 hours old Stripe makes a new refund under it: a later confirm asks Stripe
    first what the card already refunded (``integrations.refunds.refund_made_from``)."""
    with transaction.atomic():
        item = ReviewItem.objects.select_for_update().filter(pk=item_id).first()
        if item is not None and not (item.data or {}).get(REFUND_SENT):
            item.data = {**(item.data or {}), REFUND_SENT: True}
            item.save(update_fields=["data"])


def note_refund_failed(item_id: int, refund_id: str, actor: Actor) -> bool:
    """A refund this card made, found in Stripe's list after its answer was lost, has failed (or
    was canceled), and Stripe lists no refund of the card that stands: nothing was given back. The
    card's current attempt is over, as when a failed refund reopens a closed card: the next confirm
    is a new attempt with an idempotency key of its own (Stripe answers the old key with the refund
    that failed, or refuses it) and sends a new refund. Returns whether this call marked it."""
    if not refund_id:
        return False
    with transaction.atomic():
        item = ReviewItem.objects.select_for_update().filter(pk=item_id).first()
        if item is None or item.state != ReviewItem.State.OPEN:
            return False
        data = dict(item.data or {})
        if not end_refund_attempt(data, refund_id):  # marked already (another operator, a double click)
            return False
        item.data = data
        item.save(update_fields=["data"])
        audit(
            "review.updated",
            actor=actor,
            registration=item.registration,
            obj=item,
            after={"key": item.key, "failed_refund": refund_id},
        )
        close_failed_refund_card(refund_id, actor)
        return True


def note_refund_refused(
    item_id: int, attempt: int, payment_id: int, said: str, actor: Actor, *, sent_before: bool
) -> bool:
    """Stripe refused the refund request of this card's attempt ``attempt`` with a definite answer
    (a 4xx other than a 409, a 429 or an ``idempotency_error``: the charge is already refunded,
    the amount is too large, a card error…). That request made no refund, and Stripe gives the same
    refusal back to every request with the attempt's key for 24 hours, even once its cause is gone:
    the attempt is over, and the next confirm is a new one with a key of its own (Stripe's advice:
    correct the request and send it with a new key). A request whose answer was lost (a timeout, a
    5xx) ends nothing: its key is what keeps a refund it made from being made twice.

    ``sent_before``: a request of this attempt had been sent before this one (its answer lost). The
    card then keeps ``REFUND_SENT``, so the next attempt asks Stripe first what the card refunded
    (Stripe refused that key, so nothing was refunded under it unless it had expired; asking costs
    one look-up). Only the attempt the request was sent in is ended, and once: two requests of a
    double click that both got the refusal end one attempt. Returns whether this call ended it."""
    with transaction.atomic():
        item = ReviewItem.objects.select_for_update().filter(pk=item_id).first()
        if item is None or item.state != ReviewItem.State.OPEN or refund_attempt(item) != attempt:
            return False
        data = dict(item.data or {})
        refused = {"attempt": attempt, "payment": payment_id, "stripe_said": said[:500]}
        data[REFUSED_REFUNDS] = [*(data.get(REFUSED_REFUNDS) or []), refused]
        if not sent_before:
            data.pop(REFUND_SENT, None)
        item.data = data
        item.save(update_fields=["data"])
        audit(
            "review.updated",
            actor=actor,
            registration=item.registration,
            obj=item,
            after={"key": item.key, "refused_refund": refused},
            message=f"Stripe refused a refund from this card: {said}. Nothing was refunded; a new refund may be sent.",
        )
        return True


@retried
def resolve_refunded(item_id: int, actor: Actor, *, refund_id: str, amount: int, payment: Payment) -> ReviewItem:
    """Close the item after the refund is recorded in the facts.

    A full refund can already have auto-closed a paid-but-cancelled item (the condition stopped
    holding when the refund fact arrived); the operator's resolution replaces the automatic one.

    The card keeps the refund's id: when Stripe fails that refund later, the card opens again
    (``detection.reopen_for_failed_refund``). A refund that failed already (its ``refund.failed``
    was processed while the operator waited for Stripe's answer, which said "pending") opens it
    again at once: the returned item is open then."""
    with transaction.atomic():
        # The refund's row first, as the webhook that records its status takes it: a refund.failed
        # processed meanwhile is seen here, or its recompute sees this card closed (and reopens it).
        refund = Refund.objects.select_for_update().filter(refund_id=refund_id).first() if refund_id else None
        item = ReviewItem.objects.select_for_update().filter(pk=item_id).first()
        if item is None:
            raise ResolutionError("This review item no longer exists.")
        if item.state != ReviewItem.State.OPEN and not item.resolution.startswith("auto:"):
            raise ResolutionError("This review item was already resolved.")
        if refund_id and refund_id in ((item.data or {}).get(FAILED_REFUNDS) or []):
            # Stripe answered a confirm that used an earlier attempt's key (sent before that
            # attempt's refund failed and reopened the card) with that refund: nothing was
            # refunded now, and the card stays as it is (open, or closed by itself since).
            return item
        note = f"Refunded {_money(amount, payment.currency)} through Stripe ({refund_id})."
        if refund_id:
            item.data = {**(item.data or {}), CLOSED_WITH_REFUND: refund_id}
        close_item(item, "refunded", actor, note)
        if refund is not None and refund.status in FALLEN_REFUND:
            item = reopen_for_failed_refund(item, refund, actor) or item
        for reg in filter(None, [item.registration, item.counterpart]):
            recompute(reg, actor, detect=False)
        return item


def map_unmatched_event(item_id: int, actor: Actor, *, event=None, ignored: bool = False):
    """Map the unknown payment link / appointment type to ``event`` (or mark it not ours), then
    replay the stored signals waiting for it. Returns (mapping, ``services.Replay``).

    The mapping and the card are settled and committed first; the replay runs after, one fact per
    transaction, for ``REPLAY_INLINE_SECONDS`` in this request and the rest in the worker. So a
    backlog of thousands neither holds the card's lock nor runs the request out of time (which
    would have rolled the mapping back)."""
    from .services import REPLAY_INLINE_SECONDS, replay_unmatched

    if event is None and not ignored:
        raise ResolutionError("Choose an event, or mark the link as not ours.")
    mapping = _map_item(item_id, actor, event, ignored)
    return mapping, replay_unmatched(mapping.kind, mapping.value, actor, seconds=REPLAY_INLINE_SECONDS)


@retried
def _map_item(item_id: int, actor: Actor, event, ignored: bool):
    from .services import save_mapping

    item = _lock_open_item(item_id, ReviewItem.Kind.UNMATCHED_EVENT)
    kind, value = item.data.get("mapping_kind"), item.data.get("mapping_value")
    if not kind or value in (None, ""):
        raise ResolutionError("This item does not say which link or appointment type it is about.")
    return save_mapping(kind, value, None if ignored else event, actor, ignored=ignored)


@retried
def assign_group_seats(
    item_id: int, assignments: list[dict], actor: Actor, *, payer_takes_seat: bool = True
) -> list[Registration]:
    """Give the seats of a group payment to the people who use them.

    ``assignments``: one dict per seat, either ``{"registration_id": pk}`` (an existing
    registration of the event, typically someone who booked but did not pay) or
    ``{"name": …, "email": …}`` (a named attendee, registered now). Each target gets a seat fact:
    a Payment of method GROUP_SEAT, amount 0 (the money is on the group payment, so gross is not
    counted twice) keyed ``seat:<payment pk>:<seat>`` — the same fact ``registrations.seats``
    writes when someone books with a seat's own link, so the two paths never hand out one seat
    twice: seats already taken that way are skipped, and a seat given here marks its booking
    link as used. Seat 1 is the payer's when ``payer_takes_seat``; the total may not exceed the
    seats paid for."""
    from . import seats as seat_facts
    from .identity import normalise_email
    from .services import _registration_for

    with transaction.atomic():
        item = _lock_open_item(item_id, ReviewItem.Kind.GROUP_PAYMENT)
        payment = Payment.objects.select_for_update().filter(pk=item.payment_id).first()
        if payment is None or item.registration is None:
            raise ResolutionError("The group payment or its registration no longer exists.")
        payer_reg = item.registration
        event = payer_reg.event
        seats = int(item.data.get("seats") or payment.quantity or 1)

        seat_rows = list(Payment.objects.filter(manual_key__startswith=f"seat:{payment.pk}:"))
        taken: dict[int, int | None] = {}  # seat number → registration pk
        for row in seat_rows:
            try:
                taken[int(row.manual_key.rsplit(":", 1)[1])] = row.registration_id
            except ValueError:
                continue
        references = {r.seat: r for r in SeatReference.objects.select_for_update().filter(payment=payment)}
        for ref in references.values():
            if ref.registration_id is not None:
                taken.setdefault(ref.seat, ref.registration_id)
        free = [n for n in range(2 if payer_takes_seat else 1, seats + 1) if n not in taken]
        if not assignments and (free or not payer_takes_seat):
            # With every other seat already booked with its link, the payer taking theirs is all
            # that is left to say: the card closes with nothing else assigned.
            raise ResolutionError("Assign at least one seat (to a booking or a named attendee).")
        wanted = len(assignments) + (1 if payer_takes_seat else 0)
        if len(assignments) > len(free):
            already = f" ({len(taken)} already taken by booking links)" if taken else ""
            raise ResolutionError(f"Only {seats} seats were paid for{already}; you assigned {wanted}.")

        targets: list[Registration] = []
        for n, a in enumerate(assignments, start=1):
            if a.get("registration_id"):
                reg = Registration.objects.select_related("attendee", "event").filter(pk=a["registration_id"]).first()
                if reg is None or reg.event_id != event.pk:
                    raise ResolutionError(f"Seat {n}: that registration is not on {event}.")
            else:
                email = normalise_email(a.get("email", ""))
                if "@" not in email:
                    raise ResolutionError(f"Seat {n}: give the attendee's email address.")
                reg = _registration_for(event, [email], "", (a.get("name") or "").strip(), "", Source.MANUAL, actor)
            if reg.pk == payer_reg.pk:
                raise ResolutionError(f"Seat {n} is the payer; tick “the payer takes a seat” instead.")
            if reg.pk in {t.pk for t in targets} or reg.pk in taken.values():
                raise ResolutionError(f"{reg.attendee} already has a seat of this payment.")
            targets.append(reg)

        summary = {s.get("seat"): s for s in payment.seat_assignments or [] if isinstance(s, dict)}
        if payer_takes_seat:
            summary[1] = {"seat": 1, "registration": payer_reg.reference, "email": payer_reg.attendee.email}
        now = timezone.now()
        for n, reg in zip(free, targets, strict=False):
            seat = Payment.objects.create(
                manual_key=seat_facts.seat_key(payment, n),
                event=event,
                registration=reg,
                **seat_facts.seat_fields_from_group(payment),  # its state, and refunded if the group is
                method=Payment.Method.GROUP_SEAT,
                source=Source.MANUAL,
                amount=0,
                currency=payment.currency or event.currency,
                quantity=1,
                email=reg.attendee.email,
                name=reg.attendee.name,
                occurred_at=now,
                note=f"seat {n} of {seats} of group payment {payment} by {payer_reg.attendee.email}"[:300],
            )
            ref = references.get(n)
            if ref is not None and ref.registration_id is None:
                # The seat's own booking link is now used: a later booking with it gets no second seat.
                ref.registration, ref.claimed_at = reg, now
                ref.save(update_fields=["registration", "claimed_at"])
            audit(
                "registration.seat_assigned",
                actor=actor,
                registration=reg,
                obj=seat,
                after={
                    "group_payment": str(payment),
                    "seat": n,
                    "seats": seats,
                    "payer": payer_reg.attendee.email,
                    "by": "operator",
                    **(
                        {"refunded_with_group": True, "because": seat_facts.refund_reason(payment)}
                        if seat.refunded_with_group
                        else {}
                    ),
                },
            )
            summary[n] = {"seat": n, "registration": reg.reference, "email": reg.attendee.email, "by": "operator"}
        payment.seat_assignments = [summary[k] for k in sorted(k for k in summary if isinstance(k, int))]
        payment.save(update_fields=["seat_assignments", "updated_at"])
        given = payment.seat_assignments
        note = f"{len(given)} of {seats} seats assigned: " + ", ".join(f"seat {s['seat']} {s['email']}" for s in given)
        close_item(item, "seats_assigned", actor, note)
        for reg in [payer_reg, *targets]:
            recompute(reg, actor)
        return targets


def _manual_key(prefix: str, registration: Registration, key: str | None) -> str:
    return f"{prefix}:{key}" if key else f"{prefix}:{registration.pk}:{timezone.now().timestamp():.6f}"


@retried
def mark_paid_manually(
    registration: Registration, amount: int, method: str, reason: str, actor: Actor, key: str | None = None
) -> Registration:
    """Record a payment taken outside Stripe (cash, card in person, complimentary, other) with the
    operator's reason. ``key`` (a one-time form token) makes a double submit a no-op."""
    reason = (reason or "").strip()
    if not reason:
        raise ResolutionError("Say why this registration is marked paid by hand.")
    if method not in MANUAL_PAYMENT_METHODS:
        raise ResolutionError(f"Unknown payment method {method!r}.")
    if method == Payment.Method.COMPLIMENTARY:
        amount = 0
    if amount is None or amount < 0:
        raise ResolutionError("The amount cannot be negative.")
    manual_key = _manual_key("manual-paid", registration, key)
    with transaction.atomic():
        reg = locked_registrations().get(pk=registration.pk)
        if Payment.objects.filter(manual_key=manual_key).exists():
            return reg
        if sides(reg)[0]:
            # Another operator (or Stripe) got there first: a second payment would count twice.
            raise ResolutionError(f"{reg.attendee} is already paid; nothing was recorded.")
        before = {"status": reg.status, "manual_paid_reason": reg.manual_paid_reason}
        payment = Payment.objects.create(
            manual_key=manual_key,
            event=reg.event,
            registration=reg,
            state=Payment.State.PAID,
            method=method,
            source=Source.MANUAL,
            amount=amount,
            currency=reg.event.currency,
            quantity=1,
            email=reg.attendee.email,
            name=reg.attendee.name,
            occurred_at=timezone.now(),
            note=reason[:300],
        )
        reg.manual_paid_reason = reason[:300]
        reg.save(update_fields=["manual_paid_reason", "updated_at"])
        audit(
            "registration.marked_paid",
            actor=actor,
            registration=reg,
            obj=payment,
            before=before,
            after={"amount": amount, "method": method, "reason": reason},
        )
        recompute(reg, actor)
        return reg


@retried
def mark_booked_manually(registration: Registration, reason: str, actor: Actor, key: str | None = None) -> Registration:
    """Record a place given outside Acuity, with the operator's reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ResolutionError("Say why this registration is marked booked by hand.")
    manual_key = _manual_key("manual-booked", registration, key)
    with transaction.atomic():
        reg = locked_registrations().get(pk=registration.pk)
        if Booking.objects.filter(manual_key=manual_key).exists():
            return reg
        if sides(reg)[1]:
            raise ResolutionError(f"{reg.attendee} is already booked; nothing was recorded.")
        before = {"status": reg.status, "manual_booked_reason": reg.manual_booked_reason}
        booking = Booking.objects.create(
            manual_key=manual_key,
            event=reg.event,
            registration=reg,
            email=reg.attendee.email,
            first_name=reg.attendee.name[:100],
            phone=reg.attendee.phone,
            source=Source.MANUAL,
            starts_at=reg.event.starts_at,
            state_at=timezone.now(),
            note=reason[:300],
        )
        reg.manual_booked_reason = reason[:300]
        reg.save(update_fields=["manual_booked_reason", "updated_at"])
        audit(
            "registration.marked_booked",
            actor=actor,
            registration=reg,
            obj=booking,
            before=before,
            after={"reason": reason},
        )
        recompute(reg, actor)
        return reg
