"""Processing of stored webhook deliveries (django-q2 tasks) and the sweeper that keeps it going.

``process_webhook(pk)`` — one attempt at one inbox row:

1. pause while ``processing_paused()`` (READ_ONLY_MODE): the row stays ``received``, nothing is
   written, the sweeper queues it again once processing resumes;
2. claim the row by compare-and-set (``status=received`` and no live lease → lease + attempts+1),
   so two workers, a redelivery and the sweeper can all queue it and it still runs once at a
   time; a row already processed is a no-op;
3. build the signal(s) — provider API calls happen here, outside any transaction, with a short
   timeout (settings.WEBHOOK_HTTP_TIMEOUT) — and hand them to ``apply_payment`` /
   ``apply_booking`` with ``Actor.system(source="webhook:<event id>")``; both are idempotent,
   so a repeated run changes nothing;
4. finish: ``processed`` with a one-line result; or, on a retryable error, ``attempts`` and
   ``last_error`` recorded and the next attempt set ``base × 4^(n-1)`` later
   (settings.WEBHOOK_RETRY_*), or later still when the provider asked for a longer wait
   (``Retry-After``) than the attempt may spend sleeping (``clients.default_wait_budget``);
   after settings.WEBHOOK_MAX_ATTEMPTS (or at once for a permanent error such as bad
   credentials or a missing API-key permission) ``failed``, for an operator to retry from the
   admin or with ``manage.py replay_webhooks``.
   Unless the provider delivered the row again while this attempt ran (``deliveries`` moved
   since the claim): an Acuity row that would be ``processed``, or any row that would be
   ``failed``, is queued again for a full run instead, so a change announced during the attempt
   is not marked done with what the attempt fetched before it (``_finish_unless_delivered_again``).

The task always returns normally (it is acked); retries are ours, with backoff, driven by
``sweep_webhooks`` (every minute, integrations/schedules.py), which queues every ``received`` row
whose ``next_attempt_at`` has passed: the next attempt after a failure, or a task that got lost.
An Acuity redelivery of a row waiting for its next attempt queues it at once instead
(``integrations.inbox``): it announces a change, which should not wait for the backoff.

An Acuity 404 for the appointment is *processed* with the result "appointment not found": the
signature proved the delivery came from our account, no retry can bring the appointment back, and
the failed list is kept for things an operator can act on.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.utils import timezone

from jlf.readonly import processing_paused
from jlf.tasks import task_timeout
from registrations.audit import Actor
from registrations.models import Source
from registrations.services import apply_booking, apply_payment

from . import acuity_events, stripe_events
from .clients import NotFound, ProviderError
from .inbox import _reopen_fields, enqueue, lost_after
from .models import WebhookEvent

log = logging.getLogger(__name__)
Status = WebhookEvent.Status


def retry_delay(attempts: int) -> timedelta:
    """Delay before attempt ``attempts + 1``: base × 4^(attempts-1), capped."""
    seconds = settings.WEBHOOK_RETRY_BASE_SECONDS * 4 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.WEBHOOK_RETRY_MAX_SECONDS))


def _lease() -> timedelta:
    # django-q2 kills a task after Q_CLUSTER["timeout"]: a lease a little longer than that is
    # never cut short by a slow but live attempt.
    return timedelta(seconds=task_timeout() + 30)


def _log_extra(row: WebhookEvent, **more) -> dict:
    return {
        "provider": row.provider,
        "event_id": row.event_id,
        "event_type": row.event_type,
        "inbox_id": row.pk,
        "attempt": row.attempts,
        **more,
    }


# --- the task ------------------------------------------------------------------------------------
def process_webhook(pk: int | None = None, *, provider: str = "", event_id: str = "") -> str:
    """One attempt at inbox row ``pk`` (or the row of ``provider``/``event_id``, as the view queues
    it). Returns the row's status afterwards (or why it did not run)."""
    if pk is None:
        pk = WebhookEvent.objects.filter(provider=provider, event_id=event_id).values_list("pk", flat=True).first()
        if pk is None:
            return "missing"
    if processing_paused():
        log.info("webhook processing paused (read-only mode); inbox row %s stays received", pk)
        return "paused"
    row = _claim(pk)
    if row is None:
        return _why_not_claimed(pk)
    if row.attempts > settings.WEBHOOK_MAX_ATTEMPTS:
        # Only reachable when earlier attempts never finished (worker killed by the timeout).
        return _failed(row, row.last_error or f"no attempt finished in {settings.WEBHOOK_MAX_ATTEMPTS} tries")
    ignore = _still_ignored(row)
    if ignore:
        _finish(row, status=Status.IGNORED, result=ignore[:300], processed_at=timezone.now(), next_attempt_at=None)
        return Status.IGNORED
    try:
        result = _run(row)
    except NotFound as exc:
        if row.provider == WebhookEvent.Provider.ACUITY:
            log.warning("acuity appointment %s not found (deleted?)", row.object_id, extra=_log_extra(row))
            return _processed(row, f"appointment not found in Acuity ({exc})")
        return _failed(row, str(exc))
    except ProviderError as exc:
        if exc.permanent:
            return _failed(row, str(exc))
        return _retry_or_fail(row, str(exc), not_before=exc.retry_after)
    except DatabaseError as exc:
        return _retry_or_fail(row, f"database error: {type(exc).__name__}: {exc}")
    except (ValueError, KeyError, TypeError) as exc:
        # The stored body is not what the provider's documented shape says: no retry fixes it.
        log.exception("webhook %s could not be read", row.event_id, extra=_log_extra(row))
        return _failed(row, f"unreadable payload: {type(exc).__name__}: {exc}")
    except Exception as exc:  # a bug: retried (bounded), then visible as failed
        log.exception("webhook %s processing crashed", row.event_id, extra=_log_extra(row))
        return _retry_or_fail(row, f"{type(exc).__name__}: {exc}")
    return _processed(row, result)


def _claim(pk: int) -> WebhookEvent | None:
    now = timezone.now()
    lease = now + _lease()
    claimed = (
        WebhookEvent.objects.filter(pk=pk, status=Status.RECEIVED)
        .exclude(locked_until__gt=now)
        .update(locked_until=lease, attempts=F("attempts") + 1, next_attempt_at=now + max(_lease(), lost_after()))
    )
    if not claimed:
        return None
    # Read after the claim and before any provider call: its ``deliveries`` is what this attempt
    # has seen (see _finish_unless_delivered_again).
    return WebhookEvent.objects.get(pk=pk)


def _why_not_claimed(pk: int) -> str:
    row = WebhookEvent.objects.filter(pk=pk).only("status").first()
    if row is None:
        return "missing"
    if row.status == Status.RECEIVED:
        return "running elsewhere"
    return row.status  # processed / ignored / failed already: nothing to do


def _still_ignored(row: WebhookEvent) -> str:
    """The view's verdict, asked again: a replayed ``ignored`` row is processed only if it would be
    accepted now (say, STRIPE_ACCEPT_OTHER_MODE was turned on)."""
    try:
        if row.provider == WebhookEvent.Provider.STRIPE:
            return stripe_events.ignore_reason(json.loads(row.body))
        if row.provider == WebhookEvent.Provider.ACUITY:
            return acuity_events.ignore_reason(row.event_type)
    except ValueError:
        return ""  # unreadable: let _run report it as a failure
    return ""


def _run(row: WebhookEvent) -> str:
    actor = Actor.system(source=f"webhook:{row.event_id}")
    if row.provider == WebhookEvent.Provider.STRIPE:
        results = [
            apply_payment(signal, actor=actor, source=Source.WEBHOOK)
            for signal in stripe_events.signals_for(row.body, row.event_id)
        ]
    elif row.provider == WebhookEvent.Provider.ACUITY:
        results = [apply_booking(acuity_events.signal_for(row.body, row.event_id), actor=actor, source=Source.WEBHOOK)]
    else:
        raise ValueError(f"provider {row.provider} is not processed here")
    return "; ".join(describe(r) for r in results)


def describe(result) -> str:
    """One line for the inbox: what the signal did."""
    fact = str(result.fact) if result.fact is not None else "signal"
    if result.created:
        what = f"{fact} recorded"
    elif result.changed:
        what = f"{fact} updated ({', '.join(result.changed)})"
    else:
        what = f"{fact}: no change (already known)"
    reg = result.registration
    if reg is not None:
        moved = f"{result.status_before} → {result.status_after}" if result.status_before != result.status_after else ""
        what += f"; registration {reg.reference} {moved or result.status_after}"
    elif result.unmatched_event:
        what += "; event not mapped (kept, listed for review)"
    return what[:300]


# --- finishing -------------------------------------------------------------------------------------
def _finish(row: WebhookEvent, **fields) -> bool:
    """Write the outcome if the lease is still ours (a lease lost to a takeover writes nothing)."""
    done = WebhookEvent.objects.filter(pk=row.pk, locked_until=row.locked_until).update(locked_until=None, **fields)
    if not done:
        log.warning("webhook %s: lease lost before the result was written", row.event_id, extra=_log_extra(row))
    return bool(done)


def _finish_unless_delivered_again(row: WebhookEvent, why: str, **fields) -> bool:
    """``_finish`` only if no delivery of this row arrived since it was claimed; otherwise put the
    row back in the queue for another full run (fresh attempt budget). Returns whether finished.

    The intake counts every delivery of an existing row (``deliveries + 1``) under the row's lock
    and, for a row being processed, queues nothing (the running attempt owns it). ``row.deliveries``
    was read right after the claim, before any provider call, so a count that moved since then
    means a delivery arrived after this attempt started and may announce a change it did not see.
    Race-free without a lock of our own: the first UPDATE re-checks ``deliveries`` on the latest
    row version (on PostgreSQL it waits for an intake holding the row lock); if the intake commits
    first this UPDATE matches nothing and the row runs again; if this UPDATE commits first the
    intake finds the row finished and handles it as a delivery after processing.
    """
    done = WebhookEvent.objects.filter(pk=row.pk, locked_until=row.locked_until, deliveries=row.deliveries).update(
        locked_until=None, **fields
    )
    if done:
        return True
    now = timezone.now()
    with transaction.atomic():
        again = (
            WebhookEvent.objects.filter(pk=row.pk, locked_until=row.locked_until)
            .exclude(deliveries=row.deliveries)
            .update(**_reopen_fields(now), result=f"delivered again while processing, running again ({why})"[:300])
        )
        if again:
            enqueue(row.pk)  # with the ORM broker: in this transaction, with the reopened row
    if again:
        log.info(
            "webhook %s delivered again while processing (%s): queued again",
            row.event_id,
            why,
            extra=_log_extra(row, rerun=True),
        )
    else:
        log.warning("webhook %s: lease lost before the result was written", row.event_id, extra=_log_extra(row))
    return False


def _processed(row: WebhookEvent, result: str) -> str:
    fields = {
        "status": Status.PROCESSED,
        "result": result[:300],
        "last_error": "",
        "processed_at": timezone.now(),
        "next_attempt_at": None,
    }
    if row.provider == WebhookEvent.Provider.ACUITY:
        # The body names an appointment, not a state: a delivery during this run may announce a
        # change the fetch already missed (rescheduled again). Stripe: see _failed.
        if not _finish_unless_delivered_again(row, "would have been processed", **fields):
            return Status.RECEIVED
    else:
        _finish(row, **fields)
    log.info("webhook %s processed: %s", row.event_id, result, extra=_log_extra(row, result=result))
    return Status.PROCESSED


def _failed(row: WebhookEvent, error: str) -> str:
    """``failed``, unless the provider delivered the row again during this attempt: a redelivery of
    a failed row runs again with a fresh budget, and one that arrives a moment earlier (while the
    last attempt was failing) gets the same, for both providers.

    A *processed* Stripe row is not re-run on such a delivery: an ``evt_…`` names one immutable
    event (a later change is a new event with its own id and row), so a redelivery of it during
    processing carries nothing the running attempt does not already have.
    """
    fields = {"status": Status.FAILED, "last_error": error[:2000], "next_attempt_at": None}
    if not _finish_unless_delivered_again(row, f"would have failed: {error}", **fields):
        return Status.RECEIVED
    log.error("webhook %s failed after %s attempt(s): %s", row.event_id, row.attempts, error, extra=_log_extra(row))
    return Status.FAILED


def _retry_or_fail(row: WebhookEvent, error: str, *, not_before: float | None = None) -> str:
    """``not_before``: seconds the provider asked us to wait (a Retry-After longer than the
    attempt could wait); the next attempt is no earlier, within WEBHOOK_RETRY_MAX_SECONDS."""
    if row.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        return _failed(row, error)
    delay = retry_delay(row.attempts)
    if not_before:
        delay = max(delay, timedelta(seconds=min(not_before, settings.WEBHOOK_RETRY_MAX_SECONDS)))
    _finish(row, last_error=error[:2000], next_attempt_at=timezone.now() + delay)
    log.warning(
        "webhook %s attempt %s failed, next in %ss: %s",
        row.event_id,
        row.attempts,
        int(delay.total_seconds()),
        error,
        extra=_log_extra(row, retry_in=int(delay.total_seconds())),
    )
    return Status.RECEIVED


# --- sweeper and replay ------------------------------------------------------------------------------
def sweep_webhooks(limit: int = 500) -> int:
    """Queue every ``received`` row whose next attempt is due (after a failure's backoff, or a
    task that got lost). Idempotent: each row is taken by compare-and-set on ``next_attempt_at``,
    so two sweepers never queue one row twice. Returns how many were queued."""
    if processing_paused():
        return 0
    now = timezone.now()
    due = (
        WebhookEvent.objects.filter(status=Status.RECEIVED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .exclude(locked_until__gt=now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", "next_attempt_at")[:limit]
    )
    queued = 0
    for pk, due_at in list(due):
        with transaction.atomic():
            taken = WebhookEvent.objects.filter(pk=pk, status=Status.RECEIVED, next_attempt_at=due_at).update(
                next_attempt_at=now + lost_after()
            )
            if taken:
                enqueue(pk)
                queued += 1
    if queued:
        log.info("webhook sweeper queued %s delivery(ies)", queued, extra={"queued": queued})
    return queued


def replay_now(pk: int) -> str:
    """Run a stored delivery again, now, in this process (``manage.py replay_webhooks``): the row
    gets a fresh attempt budget and goes through the same path as a queued task."""
    now = timezone.now()
    reopened = WebhookEvent.objects.filter(pk=pk).exclude(locked_until__gt=now).update(**_reopen_fields(now))
    if not reopened:
        return "running elsewhere"
    return process_webhook(pk)
