"""The reminder scan (every 5 minutes, ``notifications.tasks.scan_reminders``).

1. **Select** the registrations due a reminder — one query over all eligible events:
   status PAID_ONLY or BOOKED_ONLY, the event has reminders on and has not started and is not in
   its quiet hours, the attendee has at least one channel left, one-sided for at least the
   event's delay, fewer reminders than the event's maximum, the last one at least the event's
   spacing ago and finished (not pending or deferred). The last reminder of each registration
   comes from correlated subqueries on the (registration, number) unique index, so the
   non-due majority costs no query of its own.
2. **Claim**: insert ``Reminder(registration, number=last+1)`` rows in bulk with
   ``ON CONFLICT DO NOTHING`` and a token for this run, then read back the rows carrying our
   token. The unique (registration, number) constraint makes the database the referee: when two
   scans run at once, each reminder is claimed by exactly one of them.
3. **Sweep**: reminders left open (a deferred one whose time has come, or a pending one whose
   task was lost) and queued messages due a retry.
4. **Bank debits not cleared**: a debit still awaiting funds after ``PAYMENT_CLEARING_REVIEW_DAYS``
   (its reminders held meanwhile), or at all when its event starts within a day or has started,
   gets a review item for an operator (``registrations.clearing``).
5. **Process** what was claimed or swept: in django-q2 tasks of ``CHUNK`` reminders (default),
   inline (tests, ``manage.py send_reminders --inline``), or not at all (``none``: benchmarks).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from registrations.clearing import flag_stalled_debits, still_clearing
from registrations.models import Event, Payment, Registration, Status

from .delivery import deliver, due_for_retry, free_lease
from .models import Reminder
from .policy import MISSING_FOR_STATUS, REMINDABLE_STATUSES, in_quiet_hours

log = logging.getLogger(__name__)

CHUNK = 10  # reminders per task: each may make a few rate-limited API calls
EVENTS_PER_QUERY = 200
STALE_PENDING = timedelta(minutes=15)  # a pending reminder nobody processed: its task was lost
# A delay or spacing typed far beyond any real event (a slip of the finger in the admin) means
# "never": capped here, because ``now - timedelta`` before year 1 raises and would stop the scan
# for every event, not just that one.
LONGEST_POLICY_HOURS = 24 * 365 * 100


def _hours_before(now, hours: int):
    return now - timedelta(hours=min(hours, LONGEST_POLICY_HOURS))


@dataclass
class ScanResult:
    events: int = 0
    quiet_events: int = 0
    due: int = 0
    claimed: int = 0
    swept: int = 0
    retried_messages: int = 0
    debits_for_review: int = 0
    outcomes: Counter = field(default_factory=Counter)
    reminder_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "events": self.events,
            "quiet_events": self.quiet_events,
            "due": self.due,
            "claimed": self.claimed,
            "swept": self.swept,
            "retried_messages": self.retried_messages,
            "debits_for_review": self.debits_for_review,
            "outcomes": dict(self.outcomes),
        }


def eligible_events(now) -> tuple[list[Event], int]:
    """Events that may remind right now, and how many were skipped for quiet hours."""
    events = list(
        Event.objects.filter(reminders_enabled=True, starts_at__gt=now, reminder_max_count__gt=0).only(
            "pk",
            "timezone",
            "quiet_hours_start",
            "quiet_hours_end",
            "reminder_delay_hours",
            "reminder_spacing_hours",
            "reminder_max_count",
            "sms_enabled",
        )
    )
    awake = [e for e in events if not in_quiet_hours(e, now)]
    return awake, len(events) - len(awake)


def _has_channel() -> Q:
    email_ok = Q(attendee__email_opt_out=False) & Q(attendee__email__contains="@")
    sms_ok = Q(event__sms_enabled=True, attendee__sms_opt_out=False) & ~Q(attendee__phone="")
    return email_ok | sms_ok


def due_queryset(events: list[Event], now):
    last = Reminder.objects.filter(registration=OuterRef("pk")).order_by("-number")
    per_event = Q()
    for event in events:
        spacing_ok = Q(
            last_number__lt=event.reminder_max_count,
            last_at__lte=_hours_before(now, event.reminder_spacing_hours),
            last_status__in=Reminder.DONE,
        )
        per_event |= Q(event_id=event.pk, status_changed_at__lte=_hours_before(now, event.reminder_delay_hours)) & (
            Q(last_number__isnull=True) | spacing_ok
        )
    return (
        Registration.objects.filter(
            status__in=REMINDABLE_STATUSES,
            event_id__in=[e.pk for e in events],
            attendee__anonymised_at__isnull=True,
        )
        .filter(_has_channel())
        # Someone who paid, booked and then cancelled is not nudged to book again: an operator
        # decides (refund or credit) in the exception queue.
        .exclude(Q(status=Status.PAID_ONLY) & Q(bookings__cancelled=True))
        # Nor is someone whose bank debit is still clearing asked to pay again (policy.payment_clearing),
        # unless an operator found it is not coming (registrations.clearing: "remind to pay").
        .exclude(
            Q(status=Status.BOOKED_ONLY)
            & Q(Exists(still_clearing(Payment.objects.filter(registration=OuterRef("pk")))))
        )
        .annotate(
            last_number=Subquery(last.values("number")[:1]),
            last_at=Subquery(last.annotate(at=Coalesce("decided_at", "created_at")).values("at")[:1]),
            last_status=Subquery(last.values("status")[:1]),
        )
        .filter(per_event)
    )


def select_due(now=None) -> tuple[list[tuple[int, str, int]], ScanResult]:
    """[(registration id, status, next reminder number)] due now, and the counts so far."""
    now = now or timezone.now()
    events, quiet = eligible_events(now)
    result = ScanResult(events=len(events), quiet_events=quiet)
    due = []
    for start in range(0, len(events), EVENTS_PER_QUERY):
        chunk = events[start : start + EVENTS_PER_QUERY]
        for pk, status, last_number in due_queryset(chunk, now).values_list("pk", "status", "last_number"):
            due.append((pk, status, (last_number or 0) + 1))
    result.due = len(due)
    return due, result


def claim(due: list[tuple[int, str, int]], now=None) -> list[int]:
    """Insert the claims; return the ids of the reminders this call won."""
    if not due:
        return []
    now = now or timezone.now()
    token = uuid.uuid4().hex
    Reminder.objects.bulk_create(
        [
            Reminder(
                registration_id=pk,
                number=number,
                missing=MISSING_FOR_STATUS[status],
                claim_token=token,
                created_at=now,
            )
            for pk, status, number in due
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )
    return list(Reminder.objects.filter(claim_token=token).order_by("pk").values_list("pk", flat=True))


def open_reminders(now=None, limit: int = 1000) -> list[int]:
    """Reminders to pick up again: deferred ones whose time came, and lost pending ones."""
    now = now or timezone.now()
    return list(
        Reminder.objects.filter(
            Q(status=Reminder.Status.DEFERRED, retry_at__lte=now)
            | Q(status=Reminder.Status.PENDING, created_at__lt=now - STALE_PENDING)
        )
        .filter(free_lease(now))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def run_scan(*, now=None, process: str = "enqueue") -> ScanResult:
    """One scan. ``process``: "enqueue" (django-q2 tasks), "inline" or "none"."""
    now = now or timezone.now()
    swept = open_reminders(now)
    due, result = select_due(now)
    claimed = claim(due, now)
    result.claimed = len(claimed)
    result.swept = len(swept)
    ids = sorted(set(claimed) | set(swept))
    result.reminder_ids = ids
    retry = due_for_retry(now)
    result.retried_messages = len(retry)
    try:
        result.debits_for_review = flag_stalled_debits(now)
    except Exception:  # never at the cost of the reminders; the next scan tries again
        log.exception("flagging bank debits that have not cleared failed")

    if process == "inline":
        from .reminders import process_reminder

        for pk in ids:
            try:
                result.outcomes[process_reminder(pk, now=now)] += 1
            except Exception:
                log.exception("reminder %s failed", pk)
                result.outcomes["error"] += 1
        for pk in retry:
            deliver(pk, now=now)
    elif process == "enqueue":
        from django_q.tasks import async_task

        for start in range(0, len(ids), CHUNK):
            async_task(
                "notifications.tasks.process_reminders",
                ids[start : start + CHUNK],
                task_name="reminders",
                q_options={"ack_failure": True},
            )
        for start in range(0, len(retry), 50):
            async_task(
                "notifications.tasks.deliver_messages",
                retry[start : start + 50],
                task_name="message retries",
                q_options={"ack_failure": True},
            )
    if ids or result.due or retry or result.debits_for_review:
        log.info("reminder scan: %s", result.as_dict())
    return result
