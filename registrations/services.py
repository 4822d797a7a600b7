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
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from .audit import SYSTEM, Actor, audit
from .bookings import BOOKING_STATUS_RANK, _finish_booking, apply_booking
from .engine import ApplyResult, _batched, _retrying, locked_registrations, recompute
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
from .payments import PAYMENT_STATE_RANK, REFUND_STATUS_RANK, _count_seats, _finish_payment, apply_payment

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
    "Replay",
    "replay_saved_mapping",
    "replay_unmatched",
    "save_mapping",
    "resolve_event",
    "_registration_for",
]


# --- Long jobs in chunks -----------------------------------------------------------------------
def _for_a_while(items, seconds: float | None, queue_rest):
    """Yield ``items`` one by one until ``seconds`` have passed (None: all of them), then hand the
    first one not done to ``queue_rest`` (which queues the rest as a worker task) and stop. At
    least one item is done each time, so a chain of such tasks always moves on."""
    started = time.monotonic()
    for n, item in enumerate(items):
        out_of_time = seconds is not None and time.monotonic() - started >= seconds
        if out_of_time and n:
            queue_rest(item)
            return
        yield item


# --- Mappings ------------------------------------------------------------------------------------
# A click in the exception queue or the admin replays what it can before answering; a backlog
# bigger than that (an event mapped days after sales began) goes on in the worker, in chunks
# that stay well inside Q_CLUSTER["timeout"]. A request never runs into gunicorn's timeout, and
# the mapping, saved and committed first, is never lost with it.
REPLAY_INLINE_SECONDS = 5.0
REPLAY_TASK_SECONDS = 30.0


@dataclass(frozen=True)
class Replay:
    """What a replay of the facts waiting for a mapping did: ``done`` replayed here, ``left``
    handed on to the worker (queued when this one ran out of time), ``failed`` could not be
    replayed (logged with the error; they keep waiting, and the daily reconciliation retries them)."""

    done: int = 0
    left: int = 0
    failed: int = 0

    def summary(self) -> str:
        plural = "s" if self.done != 1 else ""
        text = f"{self.done} stored signal{plural} replayed"
        if self.left:
            text += f"; {self.left} more are being replayed in the background and appear as they are matched"
        if self.failed:
            text += f"; {self.failed} could not be replayed (see the logs; the daily reconciliation tries again)"
        return text


def facts_with_key(model, kind: str, value, **filters) -> list[int]:
    """Pks (in order) of the stored facts of ``model`` (Payment or Booking) that came in with the
    mapping key ``kind``/``value``, among those matching ``filters``. The database narrows to facts
    whose keys mention the value (a text match, on SQLite and PostgreSQL alike); the exact pair is
    checked here."""
    key = (str(kind), str(value))
    rows = model.objects.filter(mapping_keys__icontains=str(value), **filters).order_by("pk")
    return [
        pk
        for pk, keys in rows.values_list("pk", "mapping_keys").iterator()
        if any(isinstance(k, list | tuple) and len(k) == 2 and (str(k[0]), str(k[1])) == key for k in keys or [])
    ]


RECOUNT = 2  # ``_waiting_for``'s position of the matched checkouts whose seats a price mapping recounts


def _waiting_for(kind: str, value: str, after: tuple[int, int] = (0, 0)) -> list[tuple[int, type, int]]:
    """(position, model, pk) of every stored fact that waits for the mapping ``kind``/``value``,
    payments first, in pk order, from just after ``after`` = (position, pk) on. For a Stripe
    price, then (position ``RECOUNT``) the checkouts already matched that sold it: their seats
    are counted again (``payments._count_seats``: the price may now be marked not ours, or be
    another event's, or be this event's ticket)."""
    found = []
    for position, model in enumerate((Payment, Booking)):
        if position < after[0]:
            continue
        after_pk = {"pk__gt": after[1]} if position == after[0] else {}
        found += [(position, model, pk) for pk in facts_with_key(model, kind, value, event__isnull=True, **after_pk)]
    if kind == EventMapping.Kind.STRIPE_PRICE and after[0] <= RECOUNT:
        after_pk = {"pk__gt": after[1]} if after[0] == RECOUNT else {}
        matched = facts_with_key(Payment, kind, value, event__isnull=False, **after_pk)
        with_items = set(Payment.objects.filter(pk__in=matched).exclude(line_items=[]).values_list("pk", flat=True))
        found += [(RECOUNT, Payment, pk) for pk in matched if pk in with_items]
    return found


def _recount_seats(pk: int, actor: Actor) -> bool:
    """Count a matched checkout's seats again after a price mapping changed; True if they changed."""
    payment = Payment.objects.select_for_update().filter(pk=pk).first()
    if payment is None or payment.event_id is None:
        return False
    changed, _row = _count_seats(payment, actor, record_kept=True)
    if not changed:
        return False
    payment.save(update_fields=["quantity", "updated_at"])
    if payment.registration_id:
        recompute(payment.registration, actor)
    return True


def replay_unmatched(
    kind: str, value: str, actor: Actor = SYSTEM, seconds: float | None = None, after: tuple[int, int] = (0, 0)
) -> Replay:
    """Re-run matching for every stored fact waiting on this mapping key, each in a transaction of
    its own. ``seconds``: stop after that long and queue the rest for the worker (after this
    transaction, if any, commits)."""
    done = failed = tried = 0
    waiting = _waiting_for(kind, value, after)

    def queue_rest(first_not_done):
        position, _, pk = first_not_done
        _queue_replay(kind, value, actor, after=(position, pk - 1))

    for position, model, pk in _for_a_while(waiting, seconds, queue_rest):
        tried += 1

        def run(model=model, pk=pk, position=position):
            if position == RECOUNT:
                return _recount_seats(pk, actor)
            # The apply path's own finishing step: adjustments, event and registration, the
            # seat a booking's reference claims or a group payment's seats, derived statuses.
            fact = model.objects.select_for_update().filter(pk=pk).first()
            if fact is None or fact.event_id is not None:
                return False  # joined into another row, or matched by another replay, since the list was read
            finish = _finish_payment if model is Payment else _finish_booking
            finish(fact, actor, ApplyResult(fact=fact), fact.source)
            return True

        try:
            done += bool(_retrying(lambda run=run: _batched(run)))
        except Exception:  # one fact that cannot be replayed must not hold up the others
            log.exception("replaying %s %s for mapping %s %s failed", model.__name__, pk, kind, value)
            failed += 1
    return Replay(done, len(waiting) - tried, failed)


def _queue_replay(kind: str, value: str, actor: Actor, after: tuple[int, int]) -> None:
    from django_q.tasks import async_task

    user_id = getattr(actor.user, "pk", None)
    transaction.on_commit(
        lambda: async_task(
            "registrations.services.replay_unmatched_task",
            kind,
            str(value),
            list(after),
            user_id,
            actor.source,
            task_name=f"replay {kind} {value} after {after[0]}:{after[1]}",
        )
    )


def replay_unmatched_task(kind: str, value: str, after, user_id: int | None = None, source: str = "") -> int:
    """The worker's part of a replay (queued by ``replay_unmatched``): in the name of whoever
    mapped it, ``REPLAY_TASK_SECONDS`` at a time, queuing the rest again."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    actor = Actor.operator(user, source) if user is not None else Actor.system(source or "mapping replay")
    replay = replay_unmatched(kind, value, actor, seconds=REPLAY_TASK_SECONDS, after=tuple(after))
    log.info("replayed %s for mapping %s %s (%s left, %s failed)", replay.done, kind, value, replay.left, replay.failed)
    return replay.done


def _close_unmatched_cards(mapping: EventMapping, actor: Actor) -> None:
    """The exception-queue card of an unknown key is settled by mapping the key (or marking it
    not ours), in the same transaction as the mapping."""
    key = f"unmatched:{mapping.kind}:{mapping.value}"
    for item in ReviewItem.objects.select_for_update().filter(key=key, state=ReviewItem.State.OPEN):
        item.state = ReviewItem.State.RESOLVED
        item.resolution = "ignored" if mapping.ignored else "mapped"
        item.resolved_at = timezone.now()
        item.resolved_by = actor.user if getattr(actor.user, "pk", None) else None
        item.save()
        audit(
            "review.resolved." + item.resolution,
            actor=actor,
            obj=item,
            event=mapping.event,
            after={"mapping": f"{mapping.kind} {mapping.value}", "event": getattr(mapping.event, "slug", None)},
        )


_replaying_itself: ContextVar[bool] = ContextVar("replaying_itself", default=False)


def replays_itself() -> bool:
    """True while ``add_mapping`` saves a mapping: the post_save receiver (the safety net for a
    mapping saved any other way) leaves the replay to it, so the operator's replay is the one
    that runs, counts, and closes the unmatched card in their name."""
    return _replaying_itself.get()


def save_mapping(kind: str, value: str, event: Event | None, actor: Actor = SYSTEM, ignored: bool = False):
    """Map a provider key to an event (or mark it not ours), audited, and settle its unmatched
    card; the facts waiting for it are replayed by the caller (``replay_unmatched``) once this
    is committed."""
    with transaction.atomic():
        previous = EventMapping.objects.select_for_update().filter(kind=kind, value=str(value)).first()
        before = (
            {"event": previous.event.slug if previous.event else None, "ignored": previous.ignored}
            if previous
            else None
        )
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
            before=before,
            after={"kind": kind, "value": str(value), "event": event.slug if event else None, "ignored": ignored},
        )
        _close_unmatched_cards(mapping, actor)
    return mapping


def replay_saved_mapping(kind: str, value: str) -> Replay:
    """For a mapping saved some other way than ``save_mapping`` (the post_save receiver's safety
    net, after the commit): settle its card, replay what waits for it."""
    with transaction.atomic():
        mapping = EventMapping.objects.filter(kind=kind, value=str(value)).first()
        if mapping is None:
            return Replay()
        _close_unmatched_cards(mapping, SYSTEM)
    return replay_unmatched(kind, value, seconds=REPLAY_INLINE_SECONDS)


def add_mapping(
    kind: str,
    value: str,
    event: Event | None,
    actor: Actor = SYSTEM,
    ignored: bool = False,
    seconds: float | None = REPLAY_INLINE_SECONDS,
) -> tuple[EventMapping, Replay]:
    """``save_mapping``, then replay what was waiting for it: for ``seconds`` here (None: all of
    it), the rest in the worker."""
    mapping = save_mapping(kind, value, event, actor, ignored)
    return mapping, replay_unmatched(kind, value, actor, seconds=seconds)


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
    changed = 0
    pks = Registration.objects.filter(event_id=event_id, pk__gt=after_pk).order_by("pk").values_list("pk", flat=True)

    def queue_rest(first_not_done):
        _queue_recompute(event_id, actor_source, after_pk=first_not_done - 1)

    for pk in _for_a_while(pks, seconds, queue_rest):

        def run(pk=pk):
            # Locked and read once, with what recompute needs (it does not read it again), so it
            # cannot be merged away between this read and recompute.
            reg = locked_registrations().filter(pk=pk).first()
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
