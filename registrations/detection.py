"""Findings that need a person: each one becomes a ReviewItem that explains itself.

Detection runs inside ``recompute`` under the registration's row lock and is idempotent: every
finding has a stable ``key``, so it is created once. Items an operator resolved or dismissed are
never reopened. Items whose condition can stop holding as more facts arrive (a suggested match,
paid-but-cancelled) are closed automatically with a resolution starting ``auto:`` and may open
again if the condition returns, so the final set of open items does not depend on arrival order.
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.db import connection
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from .audit import Actor, audit
from .identity import normalise_name, similar_to
from .models import Booking, Payment, Refund, Registration, ReviewItem, SeatReference, Status
from .money import format_money
from .seats import declined_sentence, seats_in_line_items

DUPLICATE_WINDOW = timedelta(hours=24)
# ``data["rule"]`` of a duplicate-payment card opened for a bank debit that cleared after the
# attendee had paid again (``_cleared_late_pairs``), however long after.
CLEARED_LATE = "cleared_late"


def open_review_items(reg: Registration):
    """The open review items that name ``reg`` (as the registration or its counterpart)."""
    return ReviewItem.objects.filter(Q(registration=reg) | Q(counterpart=reg), state=ReviewItem.State.OPEN)


def open_review_count(reg: Registration) -> int:
    return open_review_items(reg).count()


def _money(amount, currency):
    if amount is None:
        return "an unknown amount"
    return format_money(amount, currency)


def _ensure(
    key: str, kind: str, reg: Registration, actor: Actor, explanation: str, known: dict | None = None, **extra
) -> ReviewItem:
    """The review item for this finding, created once. ``known`` (key → item, the items that
    name this registration) saves a query for findings that are already on file."""
    item = (known or {}).get(key)
    if item is not None and item.state == ReviewItem.State.OPEN:
        return item
    if item is None:
        item, created = ReviewItem.objects.get_or_create(
            key=key,
            defaults=dict(kind=kind, event=reg.event, registration=reg, explanation=explanation, **extra),
        )
        if known is not None and reg.pk in (item.registration_id, item.counterpart_id):
            known[key] = item  # so the caller's count of open items includes it
        if created:
            audit(
                "review.opened",
                actor=actor,
                registration=reg,
                obj=item,
                after={"kind": kind, "key": key, "explanation": explanation},
            )
            return item
    if item.state != ReviewItem.State.OPEN and item.resolution.startswith("auto:"):
        item.state, item.resolution, item.resolved_at = ReviewItem.State.OPEN, "", None
        item.reopened_at = timezone.now()
        item.save(update_fields=["state", "resolution", "resolved_at", "reopened_at"])
        audit("review.reopened", actor=actor, registration=reg, obj=item, after={"key": key})
    return item


def _auto_close(item: ReviewItem, why: str, actor: Actor):
    if item.state == ReviewItem.State.OPEN:
        item.state = ReviewItem.State.RESOLVED
        item.resolution = f"auto:{why}"
        item.resolved_at = timezone.now()
        item.save(update_fields=["state", "resolution", "resolved_at"])
        audit(
            "review.auto_closed",
            actor=actor,
            registration=item.registration,
            obj=item,
            after={"key": item.key, "why": why},
        )


# --- A refund made from a card that Stripe failed later ----------------------------------------
#: Refund statuses that gave nothing back (Stripe's refund ``status``).
FALLEN_REFUND = ("failed", "canceled")
#: ``ReviewItem.data`` keys of refunding from a card: set before the card's current attempt first
#: sends a refund to Stripe (``resolutions.note_refund_sent``); the refund it was closed with; the
#: refunds of it that failed afterwards (each reopened the card, and each starts a new attempt with
#: an idempotency key of its own, ``resolutions.refund_idempotency_key``); its explanation before.
REFUND_SENT = "refund_sent"
CLOSED_WITH_REFUND = "refund"
FAILED_REFUNDS = "failed_refunds"
#: The card's attempts that Stripe refused with a definite answer (a 4xx it saves under the
#: attempt's idempotency key and gives back to every retry of that key for 24 hours): each made no
#: refund and ends its attempt (``resolutions.note_refund_refused``), as a failed refund does.
REFUSED_REFUNDS = "refused_refunds"
_FIRST_EXPLANATION = "explanation_before_refund_failed"
REFUND_CARD_KINDS = (ReviewItem.Kind.DUPLICATE_PAYMENT, ReviewItem.Kind.PAID_CANCELLED)
# The note ``resolutions.resolve_refunded`` closes a card with, for cards closed before the refund's
# id was kept in their data: "Refunded $50.00 through Stripe (re_…)."
_REFUND_IN_NOTE = re.compile(r"through Stripe \((re_[A-Za-z0-9_]+)\)\.?\s*$")


def card_refund_id(item: ReviewItem) -> str:
    """The Stripe refund a card an operator closed as refunded was closed with ("" if none)."""
    if item.resolution != "refunded":
        return ""
    found = (item.data or {}).get(CLOSED_WITH_REFUND)
    if found:
        return str(found)
    m = _REFUND_IN_NOTE.search(item.resolution_note or "")
    return m.group(1) if m else ""


def refund_attempt(item: ReviewItem) -> int:
    """Which attempt at refunding from this card the next one is: 1, then one more for each refund
    of it that failed and for each attempt Stripe refused."""
    data = item.data or {}
    return 1 + len(data.get(FAILED_REFUNDS) or []) + len(data.get(REFUSED_REFUNDS) or [])


def end_refund_attempt(data: dict, refund_id: str) -> bool:
    """Count ``refund_id``, which failed, among a card's failed refunds in its ``data`` (changed in
    place): the card's current attempt is over, and the next one has sent nothing yet (its key is a
    new one). Returns False, changing nothing, when it was counted already."""
    failed = list(data.get(FAILED_REFUNDS) or [])
    if refund_id in failed:
        return False
    data[FAILED_REFUNDS] = [*failed, refund_id]
    data.pop(REFUND_SENT, None)
    return True


def failure_reason_text(code: str) -> str:
    """Stripe's ``failure_reason`` of a refund as an operator reads it."""
    if not code:
        return "Stripe gave no reason"
    if code == "unknown":
        return "Stripe does not know why"
    return f"Stripe's reason: {code.replace('_', ' ')}"


def reopen_for_failed_refund(item: ReviewItem, refund: Refund, actor: Actor) -> ReviewItem | None:
    """Open again a card closed as refunded by ``refund``, which Stripe then failed (or canceled):
    the attendee did not get the money back, and the operator, who read "Refunded", must know. The
    card says which refund failed and why, and offers its choices again; a refund made from it now
    is a new request to Stripe (a new attempt, with its own idempotency key).

    Idempotent: a card is reopened once per refund (a redelivery finds it open, or closed with
    another refund). Returns the card, locked and reopened, or None when there was nothing to do."""
    item = (
        ReviewItem.objects.select_for_update(of=("self",))
        .select_related("registration__attendee", "event")
        .get(pk=item.pk)
    )
    if item.state == ReviewItem.State.OPEN or card_refund_id(item) != refund.refund_id:
        return None
    if refund.status not in FALLEN_REFUND:
        return None
    data = dict(item.data or {})
    # A refund counted already (an earlier attempt's, answered again to a confirm that used its
    # key) ends no attempt: the current one may have sent a refund whose answer was lost.
    end_refund_attempt(data, refund.refund_id)
    data.pop(CLOSED_WITH_REFUND, None)
    first = data.setdefault(_FIRST_EXPLANATION, item.explanation)
    currency = (refund.payment.currency if refund.payment_id else "") or (item.event.currency if item.event else "")
    money = _money(refund.amount, currency)
    who = str(item.registration.attendee) if item.registration else "the attendee"
    what = "failed" if refund.status == "failed" else "was canceled"
    because = f"the refund of {money} made from this card ({refund.refund_id}) {what}"
    item.explanation = (
        f"Not refunded: {because} ({failure_reason_text(refund.failure_reason)}), so {who} did not get this "
        f"money back. Refund again from this card (a new refund is sent to Stripe), or choose another answer. "
        f"{first}"
    )
    before = {"resolution": item.resolution, "note": item.resolution_note}
    item.data = data
    item.state, item.resolution, item.resolution_note = ReviewItem.State.OPEN, "", ""
    item.resolved_at, item.resolved_by, item.reopened_at = None, None, timezone.now()
    item.save(
        update_fields=[
            "data",
            "explanation",
            "state",
            "resolution",
            "resolution_note",
            "resolved_at",
            "resolved_by",
            "reopened_at",
        ]
    )
    audit(
        "review.reopened",
        actor=actor,
        registration=item.registration,
        obj=item,
        before=before,
        after={
            "key": item.key,
            "because": because,
            "refund": refund.refund_id,
            "failure_reason": refund.failure_reason or "",
        },
        message=f"Review item reopened: {because} ({failure_reason_text(refund.failure_reason)})",
    )
    close_failed_refund_card(refund.refund_id, actor)
    return item


def close_failed_refund_card(refund_id: str, actor: Actor) -> None:
    """Close the "Refund failed" card of ``refund_id``, a refund made from a refund card that has
    taken the failure over (reopened, or its attempt ended): opened while that card did not know the
    refund yet (its answer lost, or not yet recorded), it would be a second card about it."""
    cards = ReviewItem.objects.select_for_update(of=("self",)).filter(
        key=f"refund_failed:{refund_id}", state=ReviewItem.State.OPEN
    )
    for item in cards:
        _auto_close(item, "refunded from its queue card", actor)


def _reopen_cards_whose_refund_failed(actor: Actor, known: dict) -> None:
    """Cards closed as refunded whose refund has since failed open again (``known`` follows)."""
    cards = [
        (i, refund_id)
        for i in known.values()
        if i.kind in REFUND_CARD_KINDS and i.state != ReviewItem.State.OPEN and (refund_id := card_refund_id(i))
    ]
    if not cards:
        return
    ids = {refund_id for _, refund_id in cards}
    fallen = {
        r.refund_id: r
        for r in Refund.objects.filter(refund_id__in=ids, status__in=FALLEN_REFUND).select_related("payment")
    }
    for card, refund_id in cards:
        refund = fallen.get(refund_id)
        reopened = reopen_for_failed_refund(card, refund, actor) if refund is not None else None
        if reopened is not None:
            known[card.key] = reopened


# --- A refund made outside the queue that Stripe failed -----------------------------------------
#: ``ReviewItem.data`` key of a "Refund failed" card: the Stripe refund it is about.
FAILED_REFUND = "refund"


def _card_made_refunds(known: dict) -> set[str]:
    """The refunds made from the refund cards among ``known``: the one each was closed with, and
    those that failed after it (each reopened it or ended its attempt)."""
    made = set()
    for i in known.values():
        if i.kind in REFUND_CARD_KINDS:
            made.update((i.data or {}).get(FAILED_REFUNDS) or [])
            if refund_id := card_refund_id(i):
                made.add(refund_id)
    return made


def _given_back_since(refund: Refund, payment: Payment, refunds: list[Refund]) -> bool:
    """Whether ``payment`` gave back the money of ``refund`` (which failed) another way since: it
    is refunded in full, or refunds of it made after this one stand for at least its amount."""
    if payment.fully_refunded:
        return True
    when = refund.occurred_at or refund.created_at
    later = sum(
        r.amount
        for r in refunds
        if r.pk != refund.pk and r.status not in FALLEN_REFUND and (r.occurred_at or r.created_at) > when
    )
    return later >= refund.amount > 0


def _detect_failed_refunds(reg: Registration, actor: Actor, all_payments: list, known: dict) -> None:
    """A refund made outside the queue (in the Stripe Dashboard, say) that Stripe then failed or
    canceled gave nothing back, and nothing but the registration's history would say so: a
    "Refund failed" card opens, one per refund (its key), saying which refund, how much, Stripe's
    reason and what to do. It closes by itself when the money went back another way since (a later
    refund, the payment refunded in full). A failed refund made from a refund card is that card's
    (``reopen_for_failed_refund`` / ``resolutions.note_refund_failed``): no card of its own, and
    one opened before the card knew the refund (its answer was lost) closes."""
    cards = [i for i in known.values() if i.kind == ReviewItem.Kind.REFUND_FAILED]
    flagged = [p for p in all_payments if getattr(p, "has_fallen_refunds", False)]
    if not flagged and not any(i.state == ReviewItem.State.OPEN for i in cards):
        return
    payments = {p.pk: p for p in all_payments}
    refunds = list(Refund.objects.filter(payment__in=list(payments), cumulative=False).order_by("occurred_at", "pk"))
    by_payment: dict[int, list[Refund]] = {}
    for r in refunds:
        by_payment.setdefault(r.payment_id, []).append(r)
    card_made = _card_made_refunds(known)
    needed: set[str] = set()
    for r in refunds:
        p = payments[r.payment_id]
        if r.status not in FALLEN_REFUND or r.refund_id in card_made or not p.is_paid:
            continue
        if _given_back_since(r, p, by_payment[p.pk]):
            continue
        needed.add(r.refund_id)
        currency = p.currency or reg.event.currency
        what = "failed" if r.status == "failed" else "was canceled"
        made = f" on {_day(r.occurred_at, reg.event)}" if r.occurred_at else ""
        explanation = (
            f"Not refunded: the refund of {_money(r.amount, currency)} made outside the queue (in the Stripe "
            f"Dashboard, say){made} ({r.refund_id}) {what} ({failure_reason_text(r.failure_reason)}), so "
            f"{reg.attendee} did not get this money back. Refund it again in the Stripe Dashboard (its webhook "
            "records it here and this card closes by itself), or give the money back another way; then "
            "acknowledge here with a note saying what you did."
        )
        data = {FAILED_REFUND: r.refund_id, "amount": r.amount, "failure_reason": r.failure_reason or ""}
        item = _ensure(
            f"refund_failed:{r.refund_id}",
            ReviewItem.Kind.REFUND_FAILED,
            reg,
            actor,
            known=known,
            explanation=explanation,
            payment=p,
            data=data,
        )
        if item.state == ReviewItem.State.OPEN and item.registration_id != reg.pk:
            # Its payment is this registration's now (two rows of one payment were joined, and the
            # other row's registration had the card): the card follows the payment.
            item.registration, item.event = reg, reg.event
            item.save(update_fields=["registration", "event"])
            audit(
                "review.updated",
                actor=actor,
                registration=reg,
                obj=item,
                after={"key": item.key, "registration": reg.pk},
                message="Review item moved: the payment of its failed refund belongs to this registration now",
            )
            known[item.key] = item
        if item.state == ReviewItem.State.OPEN and item.explanation != explanation:
            # Stripe's reason came after its "failed" (``refund.updated`` first): the card says it now.
            item.explanation, item.data = explanation, {**(item.data or {}), **data}
            item.save(update_fields=["explanation", "data"])
    mine = {r.refund_id for r in refunds}
    for item in cards:
        if item.state == ReviewItem.State.OPEN and (item.data or {}).get(FAILED_REFUND) not in needed:
            refund_id = (item.data or {}).get(FAILED_REFUND)
            if refund_id in card_made:
                why = "refunded from its queue card"
            elif refund_id not in mine:
                # Not that the money went back: the registration its payment belongs to now
                # takes the card over when it is re-derived (above).
                why = "its payment moved to another person"
            else:
                why = "the money went back since"
            _auto_close(item, why, actor)


def _unsure_line_items(event, p: Payment) -> list:
    """[[price id, quantity], …] of a checkout counted as seats with nothing saying they are all
    tickets (``seats.seats_in_line_items``'s ``unsure``), else []."""
    if not p.line_items:
        return []
    count = seats_in_line_items(event, p.line_items)
    return count.counted if count.unsure else []


def _unsure_sentence(unsure: list) -> str:
    items = ", ".join(f"{price or 'no price'} ×{quantity}" for price, quantity in unsure)
    return (
        f" These products of its checkout were counted as seats ({items}), though none of their "
        "prices is mapped to this event: if one is an add-on (a lunch, a T-shirt, a room), mark its "
        "price “not ours” under Event mappings, or map the ticket's price to this event, and the "
        "seats are counted again."
    )


def _group_explanation(reg: Registration, p: Payment, seats: int, now: int | None = None, unsure=()) -> str:
    text = (
        f"{reg.attendee} paid {_money(p.amount, p.currency)} for {seats} seats in one payment. "
        "Assign each seat to a booking or a named attendee so everyone coming is on the list."
    )
    if unsure:
        text += _unsure_sentence(unsure)
    if now is not None:
        text += (
            f" The payment now reads as {now} seats (its quantity arrived or the event's price changed) "
            f"but seats were already handed out for {seats}: check the seats given against what was paid."
        )
    return text


def _follow_seat_count(
    item: ReviewItem, reg: Registration, p: Payment, seats: int, actor: Actor, unsure: list = ()
) -> None:
    """An open group card counts the seats the payment reads as now (the quantity can arrive after
    the amount opened the card, the price can be corrected to another multiple). Once a seat was
    handed out (an operator's assignment, a seat link issued to the payer) its count stays, since
    seat numbers, links and the operator's note refer to it: the card says the payment now reads
    differently (``seats_now``) and an operator decides."""
    if item.state != ReviewItem.State.OPEN or item.payment_id != p.pk:
        return
    data = dict(item.data or {})
    shown = data.get("seats")
    if unsure:
        data["prices"] = [list(pair) for pair in unsure]
    else:
        data.pop("prices", None)
    if shown == seats and "seats_now" not in data and data == item.data:
        return
    handed_out = (
        bool(p.seat_assignments)
        or SeatReference.objects.filter(payment=p).exists()
        or Payment.objects.filter(manual_key__startswith=f"seat:{p.pk}:").exists()
    )
    if not handed_out or shown is None:
        data.pop("seats_now", None)
        data["seats"] = seats
        explanation = _group_explanation(reg, p, seats, unsure=unsure)
    elif shown == seats:
        data.pop("seats_now", None)
        explanation = _group_explanation(reg, p, seats, unsure=unsure)
    else:
        data["seats_now"] = seats
        explanation = _group_explanation(reg, p, shown, now=seats, unsure=unsure)
    explanation += "".join(declined_sentence(n) for n in data.get("declined") or [])  # seats.py's notes stay
    if data == item.data and explanation == item.explanation:
        return
    before = {"seats": item.data.get("seats"), "seats_now": item.data.get("seats_now"), "explanation": item.explanation}
    item.data, item.explanation = data, explanation
    item.save(update_fields=["data", "explanation"])
    audit(
        "review.updated",
        actor=actor,
        registration=reg,
        obj=item,
        before=before,
        after={"seats": data.get("seats"), "seats_now": data.get("seats_now"), "explanation": explanation},
    )


def _paid_at(p: Payment):
    """When the money of ``p`` was paid: a bank debit when it cleared, else when it was made."""
    return p.cleared_at or p.occurred_at or p.created_at


def _cleared_late_pairs(candidates: list, same_day_pairs: dict) -> dict:
    """{debit pk: other payment}: a bank debit (``cleared_at``) that cleared after another payment
    of this registration was paid, however long after; the other is the last one paid before it
    cleared. ``candidates``: paid, not refunded in full, one seat each (no group, no seat). A pair
    the 24-hour rule already pairs (``same_day_pairs``, in either direction) is left to it."""
    pairs = {}
    for debit in candidates:
        if debit.cleared_at is None or debit.method != Payment.Method.STRIPE:
            continue
        others = [
            o
            for o in candidates
            if o.pk != debit.pk
            and _paid_at(o) < debit.cleared_at
            and same_day_pairs.get(debit.pk) is not o
            and same_day_pairs.get(o.pk) is not debit
        ]
        if others:
            pairs[debit.pk] = max(others, key=lambda o: (_paid_at(o), o.pk))
    return pairs


def _day(when, event) -> str:
    return f"{when.astimezone(event.zone):%Y-%m-%d}"


def _cleared_late_explanation(reg: Registration, debit: Payment, other: Payment) -> str:
    event = reg.event
    how = "through Stripe" if other.method == Payment.Method.STRIPE else f"by {other.get_method_display().lower()}"
    if other.cleared_at:
        how = "by another bank debit"
    return (
        f"{reg.attendee} paid twice for {event}: a bank debit of {_money(debit.amount, debit.currency)} "
        f"started on {_day(debit.occurred_at or debit.created_at, event)} was still clearing when they paid "
        f"{_money(other.amount, other.currency)} {how} on {_day(_paid_at(other), event)}, and the debit then "
        f"cleared too, on {_day(debit.cleared_at, event)}. Keep both (for example a second seat) or refund "
        "the bank debit through Stripe."
    )


def sides(reg: Registration, payments=None, bookings=None) -> tuple[bool, bool]:
    """(has live payment, has live booking) from facts, independent of the stored status."""
    payments = reg.payments.all() if payments is None else payments
    bookings = reg.bookings.all() if bookings is None else bookings
    paid = any(p.is_paid and not p.fully_refunded for p in payments)
    booked = any(not b.cancelled for b in bookings)
    return paid, booked


def detect_review_items(
    reg: Registration, actor: Actor, all_payments: list, bookings: list, items: dict | None = None
) -> tuple[set[int], int]:
    """Create/refresh the review items for ``reg`` from its facts (``all_payments`` with their
    disputes prefetched, ``bookings``). ``items``: the review items naming ``reg`` by key, when
    the caller knows them (a registration created in this transaction has none); else read here.
    Returns (pks of other registrations touched, the number of open items naming ``reg``
    afterwards — what ``open_review_count`` would count)."""
    event = reg.event
    payments = [p for p in all_payments if p.is_paid]
    if items is None:
        known = {i.key: i for i in ReviewItem.objects.filter(Q(registration=reg) | Q(counterpart=reg))}
    else:
        known = dict(items)

    # A refund made from a card that Stripe failed after the card closed: the card opens again,
    # before the rules below look at open cards (one of them may close it again as ``auto:``, when
    # the money was given back another way meanwhile).
    _reopen_cards_whose_refund_failed(actor, known)
    # A refund made outside the queue that Stripe failed: a card of its own.
    _detect_failed_refunds(reg, actor, all_payments, known)

    # Group payment: several seats in one payment.
    one_seat = set()  # payments that are one seat at the event's current price and kind
    for p in payments:
        seats = p.quantity or 1
        if (
            seats < 2
            # A checkout's line items said how many tickets it holds: a room upgrade that costs
            # as much as a ticket is not a second seat.
            and not p.line_items
            and event.price
            and not event.is_donation
            and p.amount
            and p.amount >= 2 * event.price
            and p.amount % event.price == 0
            # The price is in the event's currency: 120 EUR says nothing about seats at 60 USD.
            and (p.currency or event.currency or "").lower() == (event.currency or "").lower()
        ):
            seats = p.amount // event.price
        if seats >= 2:
            unsure = _unsure_line_items(event, p)
            item = _ensure(
                f"group:{p.pk}",
                ReviewItem.Kind.GROUP_PAYMENT,
                reg,
                actor,
                known=known,
                explanation=_group_explanation(reg, p, seats, unsure=unsure),
                payment=p,
                data={"seats": seats, **({"prices": unsure} if unsure else {})},
            )
            _follow_seat_count(item, reg, p, seats, actor, unsure)
        elif not p.seat_assignments:
            one_seat.add(p.pk)
    # A card the amount suggested (120 paid at a price of 60) that the price or kind no longer
    # suggests (the price was corrected, the event became donation-based): one seat after all.
    # Closed as ``auto:`` so it opens again if the price goes back; one whose seats an operator
    # already gave stays for them to decide.
    for item in list(known.values()):
        if (
            item.kind == ReviewItem.Kind.GROUP_PAYMENT
            and item.state == ReviewItem.State.OPEN
            and item.registration_id == reg.pk
            and item.payment_id in one_seat
        ):
            _auto_close(item, "one seat at the event's price", actor)

    # Duplicate payment: a second payment by the same attendee for the same event within 24 h.
    # A pair of which one payment has been refunded in full (in the Stripe Dashboard, say) is
    # settled: no card, and an open one closes by itself.
    # The refunded ones are left out of the pairing: of three payments with the middle one
    # refunded, the first and the third are still a duplicate.
    refunded = {p.pk for p in payments if p.fully_refunded}
    ordered = sorted((p for p in payments if p.pk not in refunded), key=lambda p: (p.occurred_at or p.created_at, p.pk))
    live_pairs = {
        later.pk: earlier
        for earlier, later in zip(ordered, ordered[1:], strict=False)
        if (later.occurred_at or later.created_at) - (earlier.occurred_at or earlier.created_at) <= DUPLICATE_WINDOW
        and Payment.Method.STRIPE in (later.method, earlier.method)
    }
    # A bank debit that cleared after the attendee had paid again (a reminder went out while it
    # cleared, or they lost patience): paid twice, whatever the time between the two payments.
    candidates = [
        p
        for p in payments
        if p.pk in one_seat
        and p.pk not in refunded
        and p.method != Payment.Method.GROUP_SEAT
        and p.event_id in (None, reg.event_id)
    ]
    late_pairs = _cleared_late_pairs(candidates, live_pairs)
    for item in list(known.values()):
        if (
            item.kind == ReviewItem.Kind.DUPLICATE_PAYMENT
            and item.state == ReviewItem.State.OPEN
            and item.registration_id == reg.pk
            and (item.data or {}).get("rule") == CLEARED_LATE
            and item.payment_id not in late_pairs
            and item.payment_id not in live_pairs  # the 24-hour rule holds this pair now (below)
            and not ({item.payment_id, (item.data or {}).get("first_payment")} & refunded)
        ):
            # No longer paid twice this way (the payments now read as a group, say): closed as
            # ``auto:`` (the resolution holds 40 characters), so it opens again if that changes back.
            _auto_close(item, "not paid twice this way now", actor)
    for item in list(known.values()):
        if (
            item.kind == ReviewItem.Kind.DUPLICATE_PAYMENT
            and item.state == ReviewItem.State.OPEN
            and item.registration_id == reg.pk
            and ({item.payment_id, (item.data or {}).get("first_payment")} & refunded)
        ):
            pairs = late_pairs if (item.data or {}).get("rule") == CLEARED_LATE else live_pairs
            if item.payment_id in pairs:  # still a duplicate, of an earlier payment now
                earlier = pairs[item.payment_id]
                item.data = {**(item.data or {}), "first_payment": earlier.pk}
                item.save(update_fields=["data"])
                audit("review.updated", actor=actor, registration=reg, obj=item, after={"first_payment": earlier.pk})
            else:
                _auto_close(item, "refunded in full", actor)
    for earlier, later in zip(ordered, ordered[1:], strict=False):
        if (later.occurred_at or later.created_at) - (earlier.occurred_at or earlier.created_at) <= DUPLICATE_WINDOW:
            if later.method != later.Method.STRIPE and earlier.method != earlier.Method.STRIPE:
                continue
            item = _ensure(
                f"duplicate:{later.pk}",
                ReviewItem.Kind.DUPLICATE_PAYMENT,
                reg,
                actor,
                known=known,
                explanation=f"{reg.attendee} paid twice for {event} within 24 hours "
                f"({_money(earlier.amount, earlier.currency)} and {_money(later.amount, later.currency)}). "
                "Keep both (for example a second seat) or refund the second payment through Stripe.",
                payment=later,
                data={"first_payment": earlier.pk},
            )
            if (item.data or {}).get("rule") == CLEARED_LATE:  # a late-debit card this rule holds now
                # Only the rule changes: other marks (a refund sent from the card) stay.
                item.data = {k: v for k, v in item.data.items() if k != "rule"} | {"first_payment": earlier.pk}
                item.save(update_fields=["data"])
    for debit_pk, other in late_pairs.items():
        debit = next(p for p in candidates if p.pk == debit_pk)
        _ensure(
            f"duplicate:{debit.pk}",
            ReviewItem.Kind.DUPLICATE_PAYMENT,
            reg,
            actor,
            known=known,
            explanation=_cleared_late_explanation(reg, debit, other),
            payment=debit,
            data={"first_payment": other.pk, "rule": CLEARED_LATE},
        )

    # Disputes.
    for p in payments:
        for d in p.disputes.all():
            _ensure(
                f"dispute:{d.dispute_id}",
                ReviewItem.Kind.DISPUTE,
                reg,
                actor,
                known=known,
                explanation=f"The bank of {reg.attendee} disputed {_money(d.amount, p.currency)} "
                f"(reason: {d.reason or 'not given'}). Respond in Stripe; acknowledge here with a note.",
                payment=p,
                data={"dispute_id": d.dispute_id},
            )

    # Paid but cancelled.
    live_paid = [p for p in payments if not p.fully_refunded]
    cancelled = [b for b in bookings if b.cancelled]
    live_bookings = [b for b in bookings if not b.cancelled]
    if live_paid and cancelled and not live_bookings:
        last = max(cancelled, key=lambda b: (b.state_at or b.created_at, b.pk))
        key = f"paid_cancelled:{last.pk}"
        # One open card about it: a card of an earlier cancelled booking that is open (a refund
        # made from it failed and reopened it, say) already asks for it. Two would invite two
        # refunds of the same money.
        if not any(
            i.kind == ReviewItem.Kind.PAID_CANCELLED
            and i.state == ReviewItem.State.OPEN
            and i.registration_id == reg.pk
            and i.key != key
            for i in known.values()
        ):
            _ensure(
                key,
                ReviewItem.Kind.PAID_CANCELLED,
                reg,
                actor,
                known=known,
                explanation=f"{reg.attendee} paid but cancelled their booking. Refund in full or in part, "
                "or keep the payment as credit.",
                booking=last,
            )
    else:
        for item in known.values():
            if (
                item.kind == ReviewItem.Kind.PAID_CANCELLED
                and item.state == ReviewItem.State.OPEN
                and item.registration_id == reg.pk
            ):
                _auto_close(item, "no longer paid and cancelled", actor)

    # A bank debit sent for review as not cleared (opened by ``clearing``, not here) that has
    # since cleared or failed, or a registration paid another way: nothing left to decide.
    own_sides = sides(reg, all_payments, bookings)
    awaiting = {p.pk for p in all_payments if p.state == Payment.State.UNPAID}
    for item in list(known.values()):
        if item.kind == ReviewItem.Kind.PAYMENT_NOT_CLEARED and item.state == ReviewItem.State.OPEN:
            if item.registration_id == reg.pk and (own_sides[0] or item.payment_id not in awaiting):
                _auto_close(item, "no longer awaiting funds", actor)

    touched = _detect_suggested_matches(reg, actor, own_sides, known)
    # ``known`` holds every item naming ``reg`` (loaded above, plus those created since), with
    # their current state: the same set ``open_review_count`` would count, without a query.
    return touched, sum(1 for item in known.values() if item.state == ReviewItem.State.OPEN)


# Namespace of the (int, int) advisory locks below (the reconciliation's run lock uses the
# separate one-bigint key space).
_SUGGESTION_LOCK = 0x4A4C46


def _one_search_at_a_time(event_id: int) -> None:
    """Serialise the suggested-match search per event until this transaction ends (PostgreSQL).

    Two workers making two similar people one-sided at once (a payment under one address, the
    booking under another) would each search before the other commits and neither would see the
    other. Under this lock the second waits for the first to commit, and its search (a new
    snapshot) sees it. Taken only when there is something to search for or close, after this
    transaction's facts are written, so registrations that are simply complete never wait.
    SQLite lets one transaction write at a time, which orders them already.

    Always exclusive. Taking it shared for payment-only searches (two payments cannot be each
    other's match) was tried and undone: the same transaction also recomputes other registrations
    of the event (seat holders completed by a group payment) without the lock, so two payments
    at once could leave a stale "same person?" card open, and the drain gained nothing measurable."""
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_SUGGESTION_LOCK, event_id])


def _detect_suggested_matches(reg: Registration, actor: Actor, own_sides: tuple[bool, bool], known: dict) -> set[int]:
    touched: set[int] = set()
    paid, booked = own_sides
    one_sided = paid != booked
    # Close suggestions that no longer make sense (either side completed or went away).
    open_suggestions = [
        i for i in known.values() if i.kind == ReviewItem.Kind.SUGGESTED_MATCH and i.state == ReviewItem.State.OPEN
    ]
    if one_sided or open_suggestions:
        _one_search_at_a_time(reg.event_id)
    for item in open_suggestions:
        other_pk = item.counterpart_id if item.registration_id == reg.pk else item.registration_id
        other = Registration.objects.filter(pk=other_pk).first() if other_pk else None
        if other is None or not one_sided or sides(other) != (booked, paid):
            _auto_close(item, "no longer one-sided", actor)
            if other is not None:
                touched.add(other.pk)
    if not one_sided:
        return touched
    attendee = reg.attendee
    # One narrow query for who could be the same person (same phone or a similar name); only
    # those few get their facts inspected. One-sidedness comes from facts (``sides``), never
    # from the stored status, so the outcome cannot depend on which recompute ran first.
    # Only registrations one-sided the other way can be a counterpart; narrowing to them in SQL
    # (the same facts ``sides`` reads) keeps this linear in the few candidates instead of
    # comparing names with every registration of the event on every signal (quadratic: 10,000
    # payments of one event reconciled into an empty database spent most of their time here).
    live_payment = Payment.objects.filter(
        registration=OuterRef("pk"), state=Payment.State.PAID, refunded_with_group=False
    ).filter(Q(amount__isnull=True) | Q(amount__lte=0) | Q(amount_refunded__lt=F("amount")))
    live_booking = Booking.objects.filter(registration=OuterRef("pk"), cancelled=False)
    other_side = (
        Q(~Exists(live_payment), Exists(live_booking)) if paid else Q(Exists(live_payment), ~Exists(live_booking))
    )
    # The stored status narrows the search first (index on event and status), so the two
    # EXISTS run for a few registrations instead of every one of a big event: a status is only
    # ever ``derive_status`` of the facts (written in the transaction that changes them, and
    # again for the whole event when its kind or price changes), and these are all the statuses
    # ``derive_status`` gives a registration one-sided that way. The facts still decide.
    if paid:  # looking for people who booked and have no live payment
        could_be = [Status.BOOKED_ONLY, Status.NEEDS_REVIEW, Status.REFUNDED]
        if reg.event.is_donation:
            could_be.append(Status.COMPLETE)
    else:  # looking for people who paid and have no live booking
        could_be = [Status.PAID_ONLY, Status.NEEDS_REVIEW]
    people = (
        Registration.objects.filter(event=reg.event, status__in=could_be)
        .filter(other_side)
        .exclude(pk=reg.pk)
        .exclude(attendee=attendee)
        .values_list("pk", "attendee__name", "attendee__phone")
    )
    matches = {}
    similar = similar_to(attendee.name)
    for pk, name, phone in people:
        reasons = []
        if attendee.phone and attendee.phone == phone:
            reasons.append(f"the same phone number ({attendee.phone})")
        if similar(name):
            if normalise_name(name) != normalise_name(attendee.name):
                reasons.append(f"very similar names (“{attendee.name}” and “{name}”)")
            elif name.strip() == attendee.name.strip():
                reasons.append(f"the same name (“{name}”)")
            else:
                reasons.append(f"the same name (“{attendee.name}” and “{name}”)")
        if reasons:
            matches[pk] = reasons
    others = Registration.objects.filter(pk__in=matches).select_related("attendee") if matches else []
    for other in others:
        reasons = matches[other.pk]
        if sides(other) != (booked, paid):
            continue
        low, high = sorted([reg.pk, other.pk])
        paid_reg, booked_reg = (reg, other) if paid else (other, reg)
        _ensure(
            f"match:{low}:{high}",
            ReviewItem.Kind.SUGGESTED_MATCH,
            paid_reg,
            actor,
            known=known,
            explanation=f"{paid_reg.attendee.email} paid and {booked_reg.attendee.email} booked for {reg.event}, "
            f"with {' and '.join(reasons)}. If they are one person, accept to merge them "
            "(the second address is remembered for the future); otherwise dismiss.",
            counterpart=booked_reg,
            data={"reasons": reasons},
        )
        touched.add(other.pk)
    return touched
