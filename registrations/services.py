"""The only writers of payment and booking facts (this module is the entry point; the parts live in
``engine``, ``matching``, ``payments`` and ``bookings``).

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
import time
from contextvars import ContextVar

from django.db import transaction
from django.utils import timezone

from .audit import SYSTEM, Actor, audit
from .bookings import BOOKING_STATUS_RANK, _finish_booking, apply_booking
from .engine import ApplyResult, _batched, _retrying, recompute
from .identity import normalise_email, normalise_phone
from .matching import (
    REFERENCE_RE,
    _registration_for,
    is_reference,
    learn_alias,
    resolve_event,
)
from .models import (
    Booking,
    Event,
    EventMapping,
    Payment,
    Registration,
    ReviewItem,
    Source,
)
from .payments import PAYMENT_STATE_RANK, REFUND_STATUS_RANK, _finish_payment, apply_payment

log = logging.getLogger(__name__)


__all__ = [
    "BOOKING_STATUS_RANK",
    "PAYMENT_STATE_RANK",
    "REFERENCE_RE",
    "REFUND_STATUS_RANK",
    "ApplyResult",
    "add_mapping",
    "apply_booking",
    "apply_payment",
    "enter_walk_in",
    "is_reference",
    "learn_alias",
    "recompute",
    "replay_unmatched",
    "resolve_event",
    "_registration_for",
]


# --- Mappings ------------------------------------------------------------------------------------
def replay_unmatched(kind: str, value: str, actor: Actor = SYSTEM) -> int:
    """Re-run matching for every stored fact waiting on this mapping key. Returns how many."""
    key = [kind, str(value)]
    count = 0
    for model in (Payment, Booking):
        # The database narrows to facts whose keys mention the value (a text match, on SQLite
        # and PostgreSQL alike); the exact [kind, value] pair is checked here.
        waiting = model.objects.filter(event__isnull=True, mapping_keys__icontains=str(value)).order_by("pk")
        for fact in waiting:
            if key not in fact.mapping_keys:
                continue

            def run(model=model, pk=fact.pk):
                # The apply path's own finishing step: adjustments, event and registration, the
                # seat a booking's reference claims or a group payment's seats, derived statuses.
                fact = model.objects.select_for_update().filter(pk=pk).first()
                if fact is None:
                    return False  # joined into another row since the list was read
                finish = _finish_payment if model is Payment else _finish_booking
                finish(fact, actor, ApplyResult(fact=fact), fact.source)
                return True

            count += bool(_retrying(lambda run=run: _batched(run)))
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


_replaying_itself: ContextVar[bool] = ContextVar("replaying_itself", default=False)


def replays_itself() -> bool:
    """True while ``add_mapping`` saves a mapping: the post_save receiver (the safety net for a
    mapping saved any other way) leaves the replay to it, so the operator's replay is the one
    that runs, counts, and closes the unmatched card in their name."""
    return _replaying_itself.get()


def add_mapping(kind: str, value: str, event: Event | None, actor: Actor = SYSTEM, ignored: bool = False):
    """Map a provider key to an event (or mark it not ours) and replay what was waiting for it."""
    with transaction.atomic():
        token = _replaying_itself.set(True)
        try:
            mapping, created = EventMapping.objects.update_or_create(
                kind=kind, value=str(value), defaults={"event": event, "ignored": ignored}
            )
        finally:
            _replaying_itself.reset(token)
        audit(
            "mapping.added" if created else "mapping.changed",
            actor=actor,
            event=event,
            obj=mapping,
            after={"kind": kind, "value": str(value), "event": event.slug if event else None, "ignored": ignored},
        )
    replayed = replay_unmatched(kind, value, actor)
    return mapping, replayed


# --- Event settings that statuses depend on -------------------------------------------------------
def recompute_event(
    event_id: int, actor_source: str = "event settings changed", after_pk: int = 0, seconds: float | None = None
) -> int:
    """Re-derive the status and review items of every registration of an event, after a change
    to what they depend on besides facts (the event's kind — a donation event has no "booked,
    not paid" — or its price, which says when one payment is several seats). One transaction per
    registration, so webhooks are never held up for long. Returns how many changed status.

    ``seconds`` (the worker's task): stop after that long and queue the rest (registrations after
    the last one done) as a new task, so a big event never runs into the worker's timeout."""
    actor = Actor.system(source=actor_source[:200])
    started, changed = time.monotonic(), 0
    pks = Registration.objects.filter(event_id=event_id, pk__gt=after_pk).order_by("pk").values_list("pk", flat=True)
    for pk in pks:
        if seconds is not None and time.monotonic() - started > seconds:
            _queue_recompute(event_id, actor_source, after_pk=pk - 1)
            break

        def run(pk=pk):
            # Locked and read once, with what recompute needs (it does not read it again), so it
            # cannot be merged away between this read and recompute.
            locked = Registration.objects.select_for_update(of=("self",)).select_related("event", "attendee")
            reg = locked.filter(pk=pk).first()
            if reg is None:
                return False  # merged away since the list was read
            before, reg.locked_in_transaction = reg.status, True
            return recompute(reg, actor) != before

        changed += bool(_retrying(lambda run=run: _batched(run)))
    log.info("recomputed registrations of event %s after #%s: %s changed status", event_id, after_pk, changed)
    return changed


RECOMPUTE_TASK_SECONDS = 30  # well inside Q_CLUSTER["timeout"]


def _queue_recompute(event_id: int, actor_source: str, after_pk: int = 0) -> None:
    from django_q.tasks import async_task

    async_task(
        "registrations.services.recompute_event",
        event_id,
        actor_source,
        after_pk,
        RECOMPUTE_TASK_SECONDS,
        task_name=f"recompute event {event_id} after {after_pk}",
    )


STATUS_INPUTS = ("kind", "price")  # the event fields that statuses and review items depend on


def rederive_if_needed(event: Event, changed_fields) -> list[str]:
    """After an event was saved with ``changed_fields``: if any of them is an input of its
    registrations' statuses (``STATUS_INPUTS``), queue ``recompute_event`` for the worker, to run
    once this change is committed. Returns the inputs that changed (empty: nothing queued)."""
    changed = [f for f in STATUS_INPUTS if f in set(changed_fields)]
    if changed:
        source = f"event {event.slug}: {', '.join(changed)} changed"
        transaction.on_commit(lambda: _queue_recompute(event.pk, source))
    return changed


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
