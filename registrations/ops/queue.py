"""The exception queue (/ops/queue/): every open review item as a card that says why it is there
and what each choice does, resolved in place.

Each action is a POST to /ops/queue/<id>/<action>/ that calls one domain function (which writes
the audit row with the operator as actor). An htmx request gets the resolved note in place of the
card plus out-of-band swaps of the counters (nav badge, per-kind tabs); a plain form POST gets a
redirect back to the queue with a message. Double submits and items someone else resolved get a
friendly note, never a 500.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlparse

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from integrations.clients import ProviderError
from integrations.refunds import TooSlow, create_refund, deadline, refund_made_from

from ..audit import Actor
from ..clearing import explanation_at, group_payments_of_seats, keep_waiting, remind_to_pay, review_after
from ..detection import FAILED_REFUNDS, FALLEN_REFUND, REFUSED_REFUNDS, refund_attempt
from ..models import Event, Payment, ReviewItem
from ..money import format_money
from ..resolutions import (
    REFUND_SENT,
    ResolutionError,
    accept_suggested_match,
    acknowledge_dispute,
    acknowledge_failed_refund,
    assign_group_seats,
    check_refund,
    dismiss,
    duplicate_refund_choices,
    duplicate_to_refund,
    keep_as_credit,
    keep_both_registrations,
    keep_duplicate,
    map_unmatched_event,
    note_refund_failed,
    note_refund_refused,
    note_refund_sent,
    open_duplicate_seconds,
    refund_idempotency_key,
    refundable_payments,
    resolve_refunded,
    stripe_refundable,
)
from ..seats import parse_seat_key
from ..services import apply_payment
from ..signals import PaymentSignal
from ..templatetags.ops_format import card_text
from .access import staff_required
from .context import open_queue_count, ops_context
from .forms import NOTE_MAX, GroupSeatsForm, MapEventForm, NoteForm, RefundForm, booked_unpaid_registrations
from .timeline import resolution_in_words

log = logging.getLogger(__name__)
PAGE_SIZE = 25
KINDS = dict(ReviewItem.Kind.choices)


# --- Reading ------------------------------------------------------------------------------------
def _filters(request) -> tuple[str, str]:
    """(event slug, kind) from the query string, or — for an htmx action — from the URL of the
    page the action was made on, so the counters shown after it match that page's filter."""
    params = request.GET
    if request.method == "POST" and request.htmx and request.htmx.current_url:
        params = {k: v[0] for k, v in parse_qs(urlparse(request.htmx.current_url).query).items()}
    event_slug = (params.get("event") or "")[:80]
    kind = params.get("kind") or ""
    return event_slug, kind if kind in KINDS else ""


def _open_items(event: Event | None):
    qs = ReviewItem.objects.filter(state=ReviewItem.State.OPEN)
    return qs.filter(event=event) if event is not None else qs


def kind_counts(event: Event | None) -> tuple[list[tuple[str, str, int]], int]:
    counts = dict(_open_items(event).values("kind").annotate(n=Count("id")).values_list("kind", "n"))
    rows = [(value, label, counts.get(value, 0)) for value, label in ReviewItem.Kind.choices]
    return rows, sum(counts.values())


def card_extras(items: list[ReviewItem]) -> dict[int, dict]:
    """What each card needs beyond the item, loaded for all cards at once (constant queries)."""
    extras: dict[int, dict] = {item.pk: {} for item in items}
    first_ids = {item.data.get("first_payment") for item in items if item.kind == ReviewItem.Kind.DUPLICATE_PAYMENT} - {
        None
    }
    firsts = {p.pk: p for p in Payment.objects.filter(pk__in=first_ids)} if first_ids else {}
    second_of_open_card = open_duplicate_seconds(first_ids) if first_ids else set()
    cancelled_regs = {
        item.registration_id for item in items if item.kind == ReviewItem.Kind.PAID_CANCELLED and item.registration_id
    }
    by_reg: dict[int, list[Payment]] = {}
    if cancelled_regs:
        for p in Payment.objects.filter(registration_id__in=cancelled_regs, state=Payment.State.PAID).order_by("pk"):
            if p.method != Payment.Method.GROUP_SEAT:
                by_reg.setdefault(p.registration_id, []).append(p)
    # A seat's "not cleared" card: the debit awaiting funds is the payer's group payment.
    groups = group_payments_of_seats(
        [item.payment for item in items if item.kind == ReviewItem.Kind.PAYMENT_NOT_CLEARED and item.payment_id]
    )
    now = timezone.now()
    with_seats: list[Payment] = []
    for item in items:
        e = extras[item.pk]
        if item.kind == ReviewItem.Kind.PAYMENT_NOT_CLEARED:
            e["debit"] = groups.get(item.payment_id) or item.payment
            e["group"] = item.payment_id in groups
            # Once the event has started no payment reminder goes out, whatever is chosen.
            e["event_started"] = item.event is not None and item.event.starts_at <= now
            # Its explanation as of now: a card opened before the start reads as started after it.
            e["explanation"] = explanation_at(item, now)
        if item.kind == ReviewItem.Kind.DUPLICATE_PAYMENT:
            e["first_payment"] = firsts.get(item.data.get("first_payment"))
            e["payments"] = duplicate_refund_choices(item, e["first_payment"], second_of_open_card)
        elif item.kind == ReviewItem.Kind.PAID_CANCELLED:
            e["payments"] = by_reg.get(item.registration_id, [])
        if "payments" in e:
            with_seats.extend(e["payments"])
            e["refundable"] = [p for p in e["payments"] if stripe_refundable(p)]
            e["not_refundable"] = [p for p in e["payments"] if not stripe_refundable(p)]
        if item.kind == ReviewItem.Kind.GROUP_PAYMENT:
            e["seats"] = int(item.data.get("seats") or 0)
    name_seat_holders(with_seats)
    return extras


def name_seat_holders(payments: list[Payment]) -> None:
    """Set ``seat_holder_names`` on each payment: who holds a seat it paid for ("A, B and C", or
    ""). Refunding a group payment in full refunds their seats too (``registrations.seats``),
    so a refund card says so before any money moves. One query for all."""
    for p in payments:
        p.seat_holder_names = ""
    if not payments:
        return
    keys = Q()
    for pk in {p.pk for p in payments}:
        keys |= Q(manual_key__startswith=f"seat:{pk}:")
    holders: dict[int, list[str]] = {}
    rows = Payment.objects.filter(keys, method=Payment.Method.GROUP_SEAT, registration__isnull=False)
    for row in rows.select_related("registration__attendee"):
        seat = parse_seat_key(row.manual_key)
        if seat:
            holders.setdefault(seat[0], []).append(str(row.registration.attendee))
    # The seats the group card counts (the amount may have told them, with no quantity).
    carded = {
        key: (data or {}).get("seats")
        for key, data in ReviewItem.objects.filter(key__in=[f"group:{pk}" for pk in holders]).values_list("key", "data")
    }
    for p in payments:
        names = sorted(holders.get(p.pk, []))
        p.seat_share = None
        if names:
            p.seat_holder_names = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
            # The payer's own seat: what a refund card fills in, so that refunding the payer who
            # cancelled does not, by default, refund the friends who are still coming.
            seats = max(int(carded.get(f"group:{p.pk}") or 0), p.quantity or 1, len(names) + 1)
            p.seat_share = min(p.net_amount, (p.amount or 0) // seats)


def _load_item(pk: int) -> ReviewItem:
    item = (
        ReviewItem.objects.select_related(
            "event", "registration__attendee", "registration__event", "counterpart__attendee", "payment", "booking"
        )
        .filter(pk=pk)
        .first()
    )
    if item is None:
        raise Http404("No such review item")
    return item


def _card_context(request, item: ReviewItem, **extra) -> dict:
    ctx = ops_context(request, item=item, x=card_extras([item])[item.pk], events=_event_choices())
    ctx.update(extra)
    return ctx


def _event_choices():
    return list(Event.objects.order_by("-starts_at").only("pk", "name", "slug", "starts_at"))


@require_GET
@staff_required
def queue(request):
    event_slug, kind = _filters(request)
    event = Event.objects.filter(slug=event_slug).first() if event_slug else None
    kinds, total = kind_counts(event)
    items_qs = _open_items(event)
    if kind:
        items_qs = items_qs.filter(kind=kind)
    items_qs = items_qs.select_related(
        "event", "registration__attendee", "registration__event", "counterpart__attendee", "payment", "booking"
    ).order_by("created_at", "pk")
    page = Paginator(items_qs, PAGE_SIZE).get_page(request.GET.get("page"))
    items = list(page.object_list)
    extras = card_extras(items)
    params = request.GET.copy()
    params.pop("page", None)
    context = ops_context(
        request,
        nav="queue",
        cards=[(item, extras[item.pk]) for item in items],
        page=page,
        query=params.urlencode(),
        kinds=kinds,
        total=total,
        filter_event=event,
        filter_event_slug=event_slug,
        filter_kind=kind,
        events=_event_choices(),
    )
    return render(request, "ops/queue.html", context)


@require_GET
@vary_on_headers("HX-Request")
@staff_required
def card(request, pk):
    """One card, e.g. to go back from a confirm step or to open the seat-assignment form."""
    item = _load_item(pk)
    if item.state != ReviewItem.State.OPEN:
        return _already(request, item)
    mode = request.GET.get("mode", "")
    extra = {}
    if mode == "assign" and item.kind == ReviewItem.Kind.GROUP_PAYMENT:
        extra["seats_form"] = _seats_form(item)
    # htmx swaps the card in place; its address opened on its own (a new tab, no JavaScript) is a
    # whole page with the navigation, not a bare fragment.
    return render(request, _card_template(request), _card_context(request, item, mode=mode, nav="queue", **extra))


# --- Answers ------------------------------------------------------------------------------------
def _counters_context(request) -> dict:
    event_slug, _ = _filters(request)
    event = Event.objects.filter(slug=event_slug).first() if event_slug else None
    kinds, total = kind_counts(event)
    return {
        "oob": True,
        "kinds": kinds,
        "total": total,
        "queue_open_count": open_queue_count(),
        "filter_event_slug": event_slug,
        "filter_event": event,
        "filter_kind": _filters(request)[1],
    }


def _next_url(request, *, closed: bool = False) -> str:
    """Where a plain (non-htmx) answer goes back to: the queue page it came from, with its filters.
    Once the card is closed, a card's own page (``queue_card``) has nothing left to show: the
    queue instead, rather than "already resolved" about the operator's own answer."""
    nxt = request.POST.get("next", "")
    if not nxt.startswith("/ops/queue/"):
        return reverse("ops:queue")
    if closed and urlparse(nxt).path != reverse("ops:queue"):
        return reverse("ops:queue")
    return nxt


def _card_template(request) -> str:
    """The card alone for htmx to swap in; a whole page with the navigation otherwise."""
    return "ops/queue.html#card" if request.htmx else "ops/queue_card.html"


def _resolved(request, item: ReviewItem, message: str):
    message = card_text(message)  # money and days as the card's facts give them ("$120.00")
    if not request.htmx:
        messages.success(request, message)
        return redirect(_next_url(request, closed=True))
    ctx = {"item": item, "message": message, **_counters_context(request)}
    return render(request, "ops/queue.html#resolved_response", ctx)


def resolution_words(item: ReviewItem) -> str:
    """The choice that closed a card, as the card named it ("not ours", "both kept"), not its code."""
    if not item.resolution:
        return item.get_state_display().lower()
    return resolution_in_words(item.resolution)


def _already(request, item: ReviewItem | None, message: str = ""):
    """Someone (or an earlier click) already resolved it: say so, calmly."""
    if item is not None:
        item = ReviewItem.objects.select_related("resolved_by", "event").filter(pk=item.pk).first()
    if not message:
        if item is None:
            message = "This item no longer exists; nothing was changed."
        else:
            who = item.resolved_by.get_username() if item.resolved_by_id else "the system"
            when = ""
            if item.resolved_at:  # in the event's zone, as every time on its pages (the server's without one)
                local = timezone.localtime(item.resolved_at, item.event.zone if item.event else None)
                when = f" on {local:%Y-%m-%d %H:%M %Z}"  # card_text reads it as "3 Dec 2026, 10:30 PST"
            message = f"Already resolved ({resolution_words(item)}) by {who}{when}. Nothing was changed."
    message = card_text(message)
    if not request.htmx:
        messages.info(request, message)
        return redirect(_next_url(request, closed=True))
    ctx = {"item": item, "message": message, "already": True, **_counters_context(request)}
    return render(request, "ops/queue.html#resolved_response", ctx)


def _card_error(request, item: ReviewItem, error: str, **extra):
    error = card_text(error)  # e.g. check_refund's "At most 120.00 USD is left" as "$120.00"
    if not request.htmx:
        messages.error(request, error)
        return redirect(_next_url(request))
    return render(request, "ops/queue.html#card", _card_context(request, item, error=error, **extra))


def _seats_form(item: ReviewItem, data=None) -> GroupSeatsForm:
    seats = int(item.data.get("seats") or 1)
    candidates = booked_unpaid_registrations(item.event) if item.event else []
    return GroupSeatsForm(data, seats=seats, candidates=candidates)


def _is_already(exc: ResolutionError) -> bool:
    """The item itself was resolved or is gone; not "a registration it names no longer exists",
    which leaves the item open and is said as it is."""
    text = str(exc)
    return "already resolved" in text or text.startswith("This review item no longer exists")


@require_POST
@staff_required
def action(request, pk, name):
    item = ReviewItem.objects.select_related("event", "registration__attendee", "payment").filter(pk=pk).first()
    if item is None:
        return _already(request, None)
    if item.state != ReviewItem.State.OPEN:
        return _already(request, item)
    handler = ACTIONS.get(name)
    if handler is None:
        raise Http404("Unknown action")
    if name not in ALLOWED.get(item.kind, ()):
        return _card_error(request, item, f"“{name}” is not a choice for a {item.get_kind_display().lower()} item.")
    actor = Actor.operator(request.user)
    try:
        return handler(request, item, actor)
    except ResolutionError as exc:
        if _is_already(exc):
            return _already(request, item)
        return _card_error(request, item, str(exc))


def _note(request) -> str:
    """The operator's note; one too long is refused (nothing is resolved) rather than dropped."""
    form = NoteForm(request.POST)
    if not form.is_valid():
        raise ResolutionError(f"Keep the note under {NOTE_MAX:,} characters; nothing was changed.")
    return form.cleaned_data["note"].strip()


def _who(item: ReviewItem) -> str:
    return str(item.registration.attendee) if item.registration else "this item"


def do_accept(request, item, actor):
    reg = accept_suggested_match(item.pk, actor)
    if item.kind == ReviewItem.Kind.SAME_PERSON_TWICE:
        return _resolved(request, item, f"Merged: {reg.attendee} now has one registration for {reg.event}.")
    return _resolved(request, item, f"Merged: {reg.attendee} now has both the payment and the booking.")


def do_dismiss(request, item, actor):
    dismiss(item.pk, actor, _note(request))
    return _resolved(request, item, "Dismissed: these two will not be suggested again.")


def do_keep(request, item, actor):
    if item.kind == ReviewItem.Kind.SAME_PERSON_TWICE:
        keep_both_registrations(item.pk, actor, _note(request))
        return _resolved(request, item, f"Kept both registrations of {_who(item)}.")
    keep_duplicate(item.pk, actor, _note(request))
    return _resolved(request, item, f"Kept both payments of {_who(item)}.")


def do_credit(request, item, actor):
    keep_as_credit(item.pk, actor, _note(request))
    return _resolved(request, item, f"Kept as credit for {_who(item)}; nothing was refunded.")


def do_acknowledge(request, item, actor):
    if item.kind == ReviewItem.Kind.REFUND_FAILED:
        acknowledge_failed_refund(item.pk, actor, _note(request))
        return _resolved(request, item, "Failed refund acknowledged; your note is in the audit trail.")
    acknowledge_dispute(item.pk, actor, _note(request))
    return _resolved(request, item, "Dispute acknowledged; your note is in the audit trail.")


def do_remind(request, item, actor):
    remind_to_pay(item.pk, actor, _note(request))
    return _resolved(
        request,
        item,
        f"The bank payment of {_who(item)} no longer holds their reminders: they are asked to pay "
        "on the event's usual reminder schedule.",
    )


def do_wait(request, item, actor):
    keep_waiting(item.pk, actor, _note(request))
    after = review_after()
    again = f" If it has not cleared in {after.days} days, it comes back here." if after else ""
    return _resolved(request, item, f"Waiting for the bank payment of {_who(item)}; no reminders meanwhile.{again}")


def do_map(request, item, actor):
    form = MapEventForm(request.POST)
    event = form.cleaned_data.get("event") if form.is_valid() else None
    if event is None:
        return _card_error(request, item, "Choose the event this belongs to (or mark it as not ours).")
    _, replay = map_unmatched_event(item.pk, actor, event=event)
    return _resolved(request, item, f"Mapped to {event}; {replay.summary()}.")


def do_ignore(request, item, actor):
    map_unmatched_event(item.pk, actor, ignored=True)
    return _resolved(request, item, "Marked as not ours: its signals are kept but never matched to an event.")


def do_assign(request, item, actor):
    form = _seats_form(item, request.POST)
    if not form.is_valid():
        if not request.htmx:
            messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
            return redirect(_next_url(request))
        return render(request, "ops/queue.html#card", _card_context(request, item, mode="assign", seats_form=form))
    d = form.cleaned_data
    try:
        targets = assign_group_seats(item.pk, d["assignments"], actor, payer_takes_seat=d["payer_takes_seat"])
    except ResolutionError as exc:
        if _is_already(exc):
            raise
        form.add_error(None, str(exc))
        ctx = _card_context(request, item, mode="assign", seats_form=form, nav="queue")
        return render(request, _card_template(request), ctx)
    if not targets:
        return _resolved(request, item, "The payer takes a seat; every other seat was booked with its own link.")
    names = ", ".join(str(r.attendee) for r in targets)
    return _resolved(request, item, f"Seats assigned to {names}.")


def do_refund(request, item, actor):
    """Two steps, no JavaScript confirm(): the first POST shows the exact amount and who gets it;
    only the second (confirm=1) calls Stripe."""
    form = RefundForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
        return _card_error(request, item, f"Check the refund amount: {errors}")
    payment_id, amount = form.cleaned_data["payment"], form.cleaned_data["amount"]
    item, payment = check_refund(item.pk, payment_id, amount)
    if not form.cleaned_data["confirm"]:
        name_seat_holders([payment])
        if not request.htmx:
            # Without htmx the confirm step is its own page.
            return render(
                request, "ops/refund_confirm.html", _card_context(request, item, payment=payment, amount=amount)
            )
        return render(
            request, "ops/queue.html#card", _card_context(request, item, mode="confirm", payment=payment, amount=amount)
        )
    # Everything said to Stripe from here on ends by ``until``: well before the web worker's timeout.
    until = deadline()
    # A duplicate card gives back one of its two payments: both share the key of the one it refunds
    # by default, so two operators confirming different ones never refund both (Stripe refuses the other).
    # A refund from the card that failed reopened it and started a new attempt (a key of its own).
    # A refund Stripe refused with a definite answer ended its attempt too (``_refused``).
    keyed = duplicate_to_refund(item) if item.kind == ReviewItem.Kind.DUPLICATE_PAYMENT else None
    attempt = refund_attempt(item)
    last_refused = ((item.data or {}).get(REFUSED_REFUNDS) or [None])[-1]
    if keyed is not None and last_refused and last_refused.get("attempt") == attempt - 1:
        if last_refused.get("payment") != payment.pk:
            # Stripe refused one payment of this duplicate card (already refunded in the Dashboard,
            # say): that opens a new attempt for that payment only. The other one is asked under the
            # refused attempt's key, which Stripe refuses, so a refusal never leads to both payments
            # being given back from the card.
            attempt -= 1
    key = refund_idempotency_key(item.pk, (keyed or payment).pk, attempt)
    reason = "duplicate" if item.kind == ReviewItem.Kind.DUPLICATE_PAYMENT else "requested_by_customer"
    sent_before = bool((item.data or {}).get(REFUND_SENT))
    if sent_before:
        # An earlier request from this card may have refunded though we never heard (Stripe answers
        # its key with a new refund once the key is 24 hours old; a refund since failed is still
        # answered as it was first): what Stripe lists decides.
        answered = _earlier_refund(request, item, actor, payment, amount, keyed, refused=False, until=until)
        if answered is not None:
            return answered
    note_refund_sent(item.pk)
    try:
        refund = create_refund(payment, amount, key, reason=reason, review_item=item.pk, until=until)
    except TooSlow as exc:  # not sent: the lookup before it used the time this request has
        log.warning("refund for review item %s not sent: %s", item.pk, exc)
        return _card_error(request, item, _SLOW)
    except ProviderError as exc:
        log.warning("refund for review item %s failed: %s", item.pk, exc)
        if exc.reused_key:
            return _earlier_refund(request, item, actor, payment, amount, keyed, refused=True, until=until)
        said = _stripe_said(exc)
        if _refused(exc):
            # Stripe's answer to this key for 24 hours, whatever changes: the attempt is over.
            note_refund_refused(item.pk, attempt, payment.pk, said, actor, sent_before=sent_before)
            msg = (
                f"Stripe refused the refund: {said}. Nothing was refunded. It is safe to refund again (with the "
                "amount corrected, or once the cause is gone): the next confirm sends a new refund request to "
                "Stripe, and a refund is still never made twice."
            )
        elif exc.permanent:
            msg = f"Stripe refused the refund: {said}. Nothing was refunded."
        else:
            msg = (
                f"Stripe could not be reached ({said}). Try again: the same refund is never made twice, "
                "even if the first attempt went through."
            )
        return _card_error(request, item, msg)
    _record_refund(item, actor, payment, refund, amount)
    money = format_money(amount, payment.currency)
    try:
        closed = resolve_refunded(item.pk, actor, refund_id=refund.get("id") or "", amount=amount, payment=payment)
    except ResolutionError:
        return _already(request, item, "The refund went through; someone had already closed this item meanwhile.")
    if closed.state == ReviewItem.State.OPEN or refund.get("id") in ((closed.data or {}).get(FAILED_REFUNDS) or []):
        return _failed_already(request, closed, money, refund.get("id"))
    return _resolved(request, item, f"Refunded {money} to {_who(item)} through Stripe ({refund.get('id')}).")


def _refused(exc: ProviderError) -> bool:
    """Stripe answered the refund request with a definite refusal, which it saves under the
    request's idempotency key (docs.stripe.com/error-low-level): a 4xx, but not a 429 (the rate
    limiter answers before the idempotency layer), a 409 (another request with the key was still
    running) nor a reused key (``idempotency_error``: the key's first request stands)."""
    return not exc.reused_key and exc.status is not None and 400 <= exc.status < 500 and exc.status not in (409, 429)


def _stripe_said(exc: ProviderError) -> str:
    """What Stripe said, to quote in a sentence: without the provider's prefix ("Stripe refused …:
    stripe: …." read twice) or the final full stop."""
    return str(exc).removeprefix(f"{exc.provider}: ").rstrip(".")


#: What an operator reads when Stripe answered too slowly for their request to wait.
_SLOW = (
    "Stripe is slow to answer right now, so this request stopped waiting. Nothing new was sent to Stripe and "
    "nothing was refunded. Try again in a minute: the same refund is never made twice."
)


def _failed_already(request, item: ReviewItem, money: str, refund_id):
    """Stripe answered the refund (say "pending"), but it had failed by the time it was recorded:
    the card was opened again at once, and says why."""
    log.warning("refund for review item %s: refund %s failed already", item.pk, refund_id)
    item = _load_item(item.pk)
    if item.state == ReviewItem.State.OPEN:
        then = "the card stays open (it says why). Refund again, or choose another answer."
    else:  # closed by itself since (the money went back another way)
        then = "the card has closed by itself since."
    return _card_error(
        request,
        item,
        f"Stripe took the refund of {money} ({refund_id}), but that refund has failed already: nothing was "
        f"refunded, and {then}",
    )


def _record_refund(item, actor, payment, refund: dict, amount: int):
    """Put a refund Stripe made from this card in the facts at once (its later webhook is a no-op)."""
    apply_payment(
        PaymentSignal(
            status="refunded",
            source_id=refund.get("id") or "",
            refund_id=refund.get("id") or "",
            refund_status=refund.get("status") or "",
            amount_refunded=int(refund.get("amount") or amount),
            payment_intent_id=payment.payment_intent_id or _ref(refund.get("payment_intent")),
            charge_id=payment.charge_id or _ref(refund.get("charge")),
            currency=payment.currency,
            reason=refund.get("reason") or "",
            raw_ref=f"ops:refund:{item.pk}",
        ),
        actor,
    )


def _earlier_refund(request, item, actor, payment, amount: int, keyed, *, refused: bool, until: float | None = None):
    """What the card's earlier refund request did, from the refunds Stripe lists for the card
    (``jlf_review_item`` metadata). ``refused``: Stripe refused the card's idempotency key (an
    earlier request from this card, with another amount or the other payment of a duplicate card,
    used it, and Stripe keeps that request's outcome for 24 hours). Else: asked before sending a
    refund again, because an earlier request from this card may have refunded unheard.

    A refund that stands is recorded and the card closed, saying the amount typed now was not
    refunded (or that no second refund was made). A refund that failed, or (refused) none at all,
    or no answer from Stripe: the card stays open and says so. Returns None (not refused, nothing
    found): the caller sends the refund. Refunds of the card that failed after it closed (and
    reopened it) are left out: the operator is refunding again after them. The lookup ends by
    ``until`` and within ``integrations.refunds.LOOKUP_BUDGET``."""
    asked = format_money(amount, payment.currency)
    if refused:
        why = (
            f"Stripe refused the refund of {asked}: an earlier refund request from this card, with another amount "
            "or payment, used the same idempotency key, and Stripe keeps that request's outcome for 24 hours."
        )
    else:
        why = (
            f"This card sent a refund request to Stripe before, so Stripe was asked what it refunded then before "
            f"sending the refund of {asked}."
        )
    candidates = {p.pk: p for p in (keyed, payment) if p is not None}
    if item.kind == ReviewItem.Kind.DUPLICATE_PAYMENT:
        candidates.update((p.pk, p) for p in refundable_payments(item))
    failed_before = (item.data or {}).get(FAILED_REFUNDS) or []
    try:
        earlier = refund_made_from(item.pk, list(candidates.values()), ignore=failed_before, until=until)
    except ProviderError as exc:
        log.warning("refund for review item %s: looking up the earlier refund failed: %s", item.pk, exc)
        if isinstance(exc, TooSlow) and not refused:
            return _card_error(
                request,
                item,
                "Stripe is slow to answer right now, so this request stopped waiting. Nothing new was sent to "
                "Stripe: this card sent a refund request before, and Stripe must first say what it refunded then. "
                "Try again in a minute.",
            )
        if not refused:
            return _card_error(
                request,
                item,
                f"Stripe could not be reached ({_stripe_said(exc)}). "
                "Nothing was sent: this card sent a refund request before, and Stripe must first say what it "
                "refunded then. Try again.",
            )
        return _card_error(
            request,
            item,
            f"{why} No new refund was made. Stripe could not be asked what that earlier request did; check the "
            "payment's refunds in the Stripe Dashboard (a refund there is recorded here by its webhook).",
        )
    if earlier is None:
        if not refused:
            return None
        log.warning("refund for review item %s: Stripe lists no refund made from this card", item.pk)
        return _card_error(
            request,
            item,
            f"{why} It made no refund: Stripe lists none from this card. Nothing was refunded. To refund now, "
            "refund the payment in the Stripe Dashboard instead: its webhook records the refund here.",
        )
    if earlier.get("status") in FALLEN_REFUND:
        # The earlier request did make a refund, but it gave nothing back, and none of the card's
        # stands: the card stays open, and its next confirm is a new attempt (a key of its own)
        # that sends a new refund, as from a card that a failed refund reopened.
        log.warning("refund for review item %s: earlier refund %s %s", item.pk, earlier.get("id"), earlier["status"])
        note_refund_failed(item.pk, earlier.get("id") or "", actor)
        return _card_error(
            request,
            item,
            f"{why} Its refund ({earlier.get('id')}) {earlier['status'].replace('canceled', 'was canceled')}. "
            "Nothing was refunded. Refund again to send a new refund to Stripe (the one that failed is not "
            "answered back), or choose another answer.",
        )
    by_intent = {p.payment_intent_id: p for p in candidates.values() if p.payment_intent_id}
    by_charge = {p.charge_id: p for p in candidates.values() if p.charge_id}
    refunded = by_intent.get(_ref(earlier.get("payment_intent"))) or by_charge.get(_ref(earlier.get("charge")))
    refunded = refunded or payment
    made = int(earlier.get("amount") or 0)
    log.warning(
        "refund for review item %s: Stripe had already made refund %s (%s) from this card; recording it",
        item.pk,
        earlier.get("id"),
        made,
    )
    _record_refund(item, actor, refunded, earlier, made)
    money = format_money(made, refunded.currency)
    if made == amount and refunded.pk == payment.pk:
        now = "No second refund was made."
    else:
        now = f"The {asked} you entered now was not refunded."
    try:
        closed = resolve_refunded(item.pk, actor, refund_id=earlier.get("id") or "", amount=made, payment=refunded)
    except ResolutionError:
        return _already(
            request,
            item,
            f"An earlier refund of {money} from this card went through ({earlier.get('id')}); someone had already "
            f"closed this item. {now}",
        )
    if closed.state == ReviewItem.State.OPEN:
        return _failed_already(request, closed, money, earlier.get("id"))
    return _resolved(
        request,
        item,
        f"Stripe had already refunded {money} to {_who(item)} from this card ({earlier.get('id')}): an earlier "
        f"attempt went through though its answer did not reach us. It is recorded now and the card is closed. {now}",
    )


def _ref(value) -> str:
    if isinstance(value, dict):
        return value.get("id") or ""
    return value or ""


ACTIONS = {
    "accept": do_accept,
    "dismiss": do_dismiss,
    "keep": do_keep,
    "credit": do_credit,
    "acknowledge": do_acknowledge,
    "map": do_map,
    "ignore": do_ignore,
    "assign": do_assign,
    "refund": do_refund,
    "remind": do_remind,
    "wait": do_wait,
}

# Which actions each kind offers (a POST of another action is refused by the domain function).
ALLOWED = {
    ReviewItem.Kind.SUGGESTED_MATCH: {"accept", "dismiss"},
    ReviewItem.Kind.GROUP_PAYMENT: {"assign"},
    ReviewItem.Kind.DUPLICATE_PAYMENT: {"keep", "refund"},
    ReviewItem.Kind.PAID_CANCELLED: {"refund", "credit"},
    ReviewItem.Kind.DISPUTE: {"acknowledge"},
    ReviewItem.Kind.UNMATCHED_EVENT: {"map", "ignore"},
    ReviewItem.Kind.PAYMENT_NOT_CLEARED: {"remind", "wait"},
    ReviewItem.Kind.SAME_PERSON_TWICE: {"accept", "keep"},
    ReviewItem.Kind.REFUND_FAILED: {"acknowledge"},
}
