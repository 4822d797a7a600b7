"""Bank debits that never clear: from a silent hold on reminders to an operator's decision.

A Stripe checkout paid by bank debit completes with ``payment_status: "unpaid"`` and is stored as
a Payment in state UNPAID ("awaiting funds") until ``async_payment_succeeded`` or ``…_failed``
arrives. While it clears (a few business days) the payment reminders are held
(``notifications.policy.payment_clearing``): asking for the money again invites a second
payment. If neither webhook ever comes, that hold would last for ever, unseen.

So once a debit has been awaiting funds for ``settings.PAYMENT_CLEARING_REVIEW_DAYS`` (the
reminder scan calls ``flag_stalled_debits``), a "Bank payment not cleared" review item opens for
it (status NEEDS_REVIEW, in the exception queue and the operators' digest); at once, whatever
its age, when the event starts within ``EVENT_NEAR`` or has started. The operator decides:

* **remind to pay** (``remind_to_pay``): the debit is not coming; this payment no longer holds the
  reminders, which resume on the event's usual rules ("please pay", with the payment link).
* **keep waiting** (``keep_waiting``): the attendee says it is on its way; reminders stay held,
  and the item opens again if it is still awaiting funds after the same number of days.

The item closes by itself (``auto:`` resolution, in ``detection``) once the payment stops awaiting
funds (cleared → paid, or failed → reminders resume anyway) or the registration is paid another
way (a card payment, marked paid by hand). The Payment fact itself is never changed here: what
Stripe says later still wins.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import CharField, Exists, F, OuterRef, Q, Value
from django.db.models.functions import Cast, Coalesce, Concat, Length, Substr
from django.utils import timezone

from .audit import Actor, audit
from .engine import _retrying, locked_registrations
from .models import Event, Payment, ReviewItem
from .money import format_money
from .resolutions import _lock_open_item, close_item, retried
from .seats import parse_seat_key
from .services import recompute

log = logging.getLogger(__name__)

KIND = ReviewItem.Kind.PAYMENT_NOT_CLEARED
REMIND = "remind_to_pay"
WAIT = "keep_waiting"
SOURCE = "reminder-scan:payment-clearing"
# A debit still awaiting funds when its event starts within this (or has started) is sent for
# review at once, whatever its age: the operator needs to know before the attendee arrives.
EVENT_NEAR = timedelta(days=1)
# Why a card opened (the scan's log says so): the debit waited the review delay, or its event
# starts within EVENT_NEAR, or has started.
OVERDUE, NEAR, STARTED = "overdue", "event_near", "event_started"


def review_after() -> timedelta | None:
    days = int(getattr(settings, "PAYMENT_CLEARING_REVIEW_DAYS", 14) or 0)
    return timedelta(days=days) if days > 0 else None


def released() -> Q:
    """For a Payment queryset: an operator decided this debit is not coming (remind to pay), on
    its own card or, for a seat of a group payment (``seat:<group pk>:<seat>``), on the group
    payment's card: the seats share the payer's debit."""
    decided = ReviewItem.objects.filter(kind=KIND, resolution=REMIND)
    own = Exists(decided.filter(payment=OuterRef("pk")))
    prefix = Concat(Value("seat:"), Cast("payment_id", CharField()), Value(":"), output_field=CharField())
    of_group = Exists(
        decided.annotate(prefix=prefix).filter(prefix=Substr(OuterRef("manual_key"), 1, Length("prefix")))
    )
    return own | Q(of_group, method=Payment.Method.GROUP_SEAT)


def still_clearing(payments):
    """The payments of ``payments`` that hold the payment reminders: awaiting funds, and not
    released by an operator."""
    return payments.filter(state=Payment.State.UNPAID).exclude(released())


def _paid_another_way() -> Exists:
    """For a Payment queryset: its registration has a live payment (paid, not refunded in full;
    the facts ``detection.sides`` reads), so the debit holds nothing back."""
    live = Payment.objects.filter(
        registration=OuterRef("registration"), state=Payment.State.PAID, refunded_with_group=False
    ).filter(Q(amount__isnull=True) | Q(amount__lte=0) | Q(amount_refunded__lt=F("amount")))
    return Exists(live)


def _stalled(now, after: timedelta):
    """Awaiting funds for longer than ``after`` at an upcoming event, or still awaiting funds
    however recent when the event starts within ``EVENT_NEAR`` or started less than ``after``
    ago (waiting the full delay would tell the operator after the event); not a donation-based
    event, registration not paid another way, and no item open for it nor one closed less than
    ``after`` ago (near the event: one closed before the event came near does not count, the
    operator decided that while there was still time); never one an operator released."""
    cutoff = now - after
    items = ReviewItem.objects.filter(payment=OuterRef("pk"), kind=KIND)
    is_open = Q(state=ReviewItem.State.OPEN)
    recent = Q(resolved_at__gt=cutoff)
    long_wait = Q(since__lte=cutoff, event__starts_at__gt=now) & ~Exists(items.filter(is_open | recent))
    near = Q(event__starts_at__lte=now + EVENT_NEAR, event__starts_at__gt=cutoff) & ~Exists(
        items.filter(is_open | (recent & Q(resolved_at__gte=OuterRef("event__starts_at") - EVENT_NEAR)))
    )
    return (
        still_clearing(Payment.objects.all())
        .annotate(since=Coalesce("occurred_at", "created_at"))
        .filter(long_wait | near, registration__isnull=False)
        # At a donation-based event the booking is the registration: a gift that has not cleared
        # holds nothing back (no payment reminder is ever due there), so there is nothing to decide.
        .exclude(event__kind=Event.Kind.DONATION)
        # Else such a debit, which ``_flag`` never flags, would come first in every scan and
        # could fill its ``limit``, so that later debits were never flagged.
        .exclude(_paid_another_way())
        .order_by("pk")
    )


def flag_stalled_debits(now=None, limit: int = 200) -> int:
    """Open a "Bank payment not cleared" item for each debit awaiting funds too long. Safe to
    run twice at once (the item's key is unique). Returns how many were opened."""
    after = review_after()
    if after is None:
        return 0
    now = now or timezone.now()
    why: dict[str, int] = {}  # why each card opened (``_flag``): how many
    for payment_id in list(_stalled(now, after).values_list("pk", flat=True)[:limit]):
        reason = _retrying(lambda pid=payment_id: _flag(pid, now, after))
        if reason:
            why[reason] = why.get(reason, 0) + 1
    opened = sum(why.values())
    if opened:
        words = {
            OVERDUE: f"not cleared after {after.days} days",
            NEAR: "at an event starting within a day",
            STARTED: "at an event that has started",
        }
        reasons = ", ".join(f"{why[r]} {words[r]}" for r in (OVERDUE, NEAR, STARTED) if r in why)
        log.info("payment clearing: %d bank debit(s) sent for review: %s", opened, reasons)
    return opened


def _group_of(payment: Payment) -> Payment | None:
    """For a seat of a group payment (GROUP_SEAT, amount 0, keyed ``seat:<group pk>:<seat>``):
    the group payment, whose bank debit is the one awaiting funds. Else None."""
    return group_payments_of_seats([payment]).get(payment.pk)


def group_payments_of_seats(payments) -> dict[int, Payment]:
    """For the seats of group payments among ``payments``: seat payment pk → its group payment
    (with the payer's registration and attendee), the debit a seat's card is about. One query."""
    wanted: dict[int, int] = {}
    for p in payments:
        parsed = parse_seat_key(p.manual_key) if p is not None and p.method == Payment.Method.GROUP_SEAT else None
        if parsed:
            wanted[p.pk] = parsed[0]
    if not wanted:
        return {}
    groups = Payment.objects.select_related("registration__attendee").in_bulk(set(wanted.values()))
    return {seat: groups[group] for seat, group in wanted.items() if group in groups}


# Where a card's explanation stops stating facts (who paid what, when, for how long): what
# follows depends on the time it is read (before or after the event starts), see ``explanation_at``.
_FACTS_END = "(a debit normally clears in a few business days). "


def _as_of(event: Event, now, *, near: bool, booked: bool, after_days: int) -> str:
    """The part of a card's explanation that holds at ``now``: whether the event has started
    (then no reminder goes out and the card does not come back) or is about to."""
    starts = event.starts_at
    local = starts.astimezone(event.zone)
    when = f"{local:%Y-%m-%d %H:%M %Z}"  # the zone named, as the history's times are
    started = starts <= now
    return (
        (
            f"The event started on {when} and the debit has still not cleared: settle it with them (no "
            "reminder is sent once an event has started, whatever you choose here). "
            if started
            else f"The event starts on {when} and the debit has still not cleared, so this card opens now "
            f"rather than after {after_days} days: settle it before they arrive. "
            if near
            else ""
        )
        + ("Payment reminders are on hold meanwhile. " if booked and not started else "")
        + "Check the payment in the Stripe dashboard or ask the attendee."
        + (
            ""
            if started  # no reminder resumes, and no card comes back, once the event has started
            else " Remind them to pay if it is not coming (the reminders resume with the payment link), "
            f"or keep waiting (asked again in {after_days} days)."
        )
    )


def explanation_at(item: ReviewItem, now) -> str:
    """A "Bank payment not cleared" card's explanation as it reads at ``now`` (the queue renders
    it when the page loads): a card opened the day before the event says, once it has started,
    that it has, not that reminders resume or that it is asked again. The facts are the stored
    ones (scrubbed, if privacy erased them); an explanation not of that shape is shown as stored."""
    facts, sep, _ = (item.explanation or "").partition(_FACTS_END)
    if not sep or item.event is None:
        return item.explanation
    data = item.data or {}
    after = review_after()
    after_days = int(data.get("after_days") or (after.days if after else 14))
    # Cards opened before "booked" was recorded: their stored text says whether it was.
    booked = data.get("booked", "Payment reminders are on hold meanwhile." in item.explanation)
    return (
        facts
        + sep
        + _as_of(item.event, now, near=bool(data.get("event_near")), booked=bool(booked), after_days=after_days)
    )


def _flag(payment_id: int, now, after: timedelta) -> str | None:
    """Open the card for this debit; returns why (OVERDUE, NEAR or STARTED), or None if not opened."""
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None or payment.registration_id is None:
        return None
    reg = locked_registrations().get(pk=payment.registration_id)
    # Changed meanwhile (checked again under the lock), paid another way included.
    if not _stalled(now, after).filter(pk=payment_id).exists():
        return None
    rounds = ReviewItem.objects.filter(payment=payment, kind=KIND).count()
    booked = reg.bookings.filter(cancelled=False).exists()
    group = _group_of(payment)
    debit = group or payment
    since = debit.occurred_at or debit.created_at
    days = (now - since).days
    day = since.astimezone(reg.event.zone)  # the event's day, as on every ops page
    amount = format_money(debit.amount, debit.currency)
    if group is not None:  # a seat of someone else's group payment: the debit is the payer's
        seat = payment.manual_key.rsplit(":", 1)[-1]
        payer = group.registration.attendee if group.registration else "the payer"
        paid = f"{reg.attendee} has seat {seat} of the group payment of {amount} that {payer} paid"
    else:
        paid = f"{reg.attendee} paid {amount}"
    starts = reg.event.starts_at
    near = starts <= now + EVENT_NEAR and (since > now - after or starts <= now)
    explanation = (
        f"{paid} by bank debit on {day:%Y-%m-%d}, and Stripe still reports it as "
        f"awaiting funds after {days} days {_FACTS_END}"
        + _as_of(reg.event, now, near=near, booked=booked, after_days=after.days)
    )
    actor = Actor.system(SOURCE)
    item, created = ReviewItem.objects.get_or_create(
        key=f"not_cleared:{payment.pk}:{rounds + 1}",
        defaults=dict(
            kind=KIND,
            event=reg.event,
            registration=reg,
            payment=payment,
            explanation=explanation,
            data={
                "days": days,
                "since": since.isoformat(),
                "after_days": after.days,
                "event_near": near,
                "booked": booked,
            },
        ),
    )
    if not created:
        return None
    audit(
        "review.opened",
        actor=actor,
        registration=reg,
        obj=item,
        after={"kind": KIND, "key": item.key, "explanation": explanation},
    )
    recompute(reg, actor, detect=False)
    return STARTED if starts <= now else NEAR if near else OVERDUE


def _decide(item_id: int, actor: Actor, resolution: str, note: str) -> ReviewItem:
    with transaction.atomic():
        item = _lock_open_item(item_id, KIND)
        close_item(item, resolution, actor, note)
        if item.registration is not None:
            recompute(item.registration, actor, detect=False)
        _decide_seats(item, actor, resolution)
        return item


def _decide_seats(item: ReviewItem, actor: Actor, resolution: str) -> None:
    """The payer's card of a group payment decides for the seats it covers too: each seat's open
    "not cleared" card closes with the same choice (audited on the seat holder's registration).
    A seat's reminders follow the payer's "remind to pay" through ``released`` even without a
    card of its own (a seat taken later included)."""
    if item.payment_id is None:
        return
    seats = Payment.objects.filter(manual_key__startswith=f"seat:{item.payment_id}:", method=Payment.Method.GROUP_SEAT)
    cards = ReviewItem.objects.filter(kind=KIND, state=ReviewItem.State.OPEN, payment__in=seats).order_by("pk")
    for seat_card in cards.select_for_update():
        close_item(seat_card, resolution, actor, f"decided on the payer's card #{item.pk} for the group payment")
        if seat_card.registration is not None:
            recompute(seat_card.registration, actor, detect=False)


@retried
def remind_to_pay(item_id: int, actor: Actor, note: str = "") -> ReviewItem:
    """The debit is not coming: it stops holding the payment reminders (the Payment stays as
    Stripe reported it; if Stripe later says paid, the registration completes as usual)."""
    return _decide(item_id, actor, REMIND, note)


@retried
def keep_waiting(item_id: int, actor: Actor, note: str = "") -> ReviewItem:
    """The money is on its way: reminders stay held; asked again after the same delay."""
    return _decide(item_id, actor, WAIT, note)
