"""The webhook inbox: record a verified delivery and queue its processing, in one transaction.

Used by the views (``integrations.webhooks``), the sweeper and the replay paths
(``integrations.tasks``, ``manage.py replay_webhooks``, the admin's retry action).

Deduplication is on *processed*, not on *seen* (INTEGRATIONS.md trap 10):

* a new (provider, event id) → a ``received`` row and a queued task;
* a redelivery of a ``processed`` or ``ignored`` Stripe event → ``deliveries + 1``, nothing else;
* a redelivery of a ``failed`` event → back to ``received`` with a fresh attempt budget, queued;
* a redelivery of a ``received`` event → queued again only when its task is overdue (lost), or
  for Acuity when the row waits for the retry of a failed attempt (below);
  if that task is running right now, the count it read when it claimed the row no longer matches
  and the task, not the intake, decides: it queues the row again rather than finish it as
  ``processed`` (Acuity) or ``failed`` (both) — ``tasks._finish_unless_delivered_again``;
* Acuity is different: its body carries no id and no state, so an identical body can announce a
  genuinely new change (``rescheduled`` twice). A redelivery of an already processed Acuity row
  re-opens it: processing re-fetches the appointment, which is harmless when nothing changed and
  the only way not to miss it when something did. One that arrives while the row is being
  processed gets a second run after the current one (the current one may have fetched before the
  change). One that arrives while the row waits for the retry of a failed attempt (say Acuity
  answered 500; ``next_attempt_at`` is in the future, no lease) queues it now instead of at the
  next backoff slot, which can be hours away: the change it announces is picked up promptly. The
  attempts already spent stay spent (only a ``failed`` row gets a fresh budget). A Stripe row in
  that state keeps its retry schedule. Identical deliveries that arrive before the first attempt
  starts still collapse into one row and one processing run.

The counting UPDATE runs under the row's lock, and the task finishes with a conditional UPDATE on
the count, so a delivery is either seen by the running attempt's finish or finds the row finished:
never neither. A brand-new delivery's path is unchanged (one statement on PostgreSQL).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.models import F
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.tasks import async_task

from .models import WebhookEvent

log = logging.getLogger(__name__)

TASK = "integrations.tasks.process_webhook"
Status = WebhookEvent.Status


def lost_after() -> timedelta:
    return timedelta(seconds=settings.WEBHOOK_LOST_AFTER_SECONDS)


def enqueue(pk: int) -> None:
    """Queue ``process_webhook(pk)``.

    With the ORM broker the queue row is inserted on the same connection, so inside the caller's
    ``transaction.atomic()`` it commits (or rolls back) together with the inbox row. Any other
    broker (Redis) is not transactional: queue after commit. Sync mode (tests, dev) also waits for
    the commit so the inline run sees the committed row.

    ``ack_failure``: a task that raises is not handed back by django-q2 every ``retry`` seconds
    with no backoff; the inbox row stays ``received`` and the sweeper owns the retry policy.
    ``save=False``: the inbox row is the record of success; failures are still saved by django-q2.
    """
    row_task = lambda: async_task(  # noqa: E731
        TASK, pk, task_name=f"webhook {pk}", q_options={"ack_failure": True, "save": False}
    )
    if Conf.ORM and not Conf.SYNC and not transaction.get_autocommit(using=Conf.ORM):
        row_task()
    else:
        transaction.on_commit(row_task, using=Conf.ORM or "default")


@dataclass
class Delivery:
    provider: str
    event_id: str
    event_type: str = ""
    object_id: str = ""
    body: str = ""
    headers: dict | None = None
    livemode: bool | None = None
    ignore_reason: str = ""  # set: stored as ignored, never processed


@dataclass
class Recorded:
    row: WebhookEvent
    created: bool
    enqueued: bool

    @property
    def duplicate(self) -> bool:
        return not self.created


def record(delivery: Delivery) -> Recorded:
    """Store one verified delivery (or count a redelivery) and queue it when it needs processing.

    The common case, a new event, is one INSERT into the inbox and one into the queue, atomically
    (on PostgreSQL with the ORM broker: a single statement, see ``_insert_new_pg``). A delivery
    already in the inbox — or a concurrent copy of this one that won the race on the unique
    (provider, event_id) key — goes down the redelivery path, so copies produce one row.
    """
    now = timezone.now()
    ignored = bool(delivery.ignore_reason)
    row = WebhookEvent(
        provider=delivery.provider,
        event_id=delivery.event_id,
        event_type=delivery.event_type[:100],
        object_id=delivery.object_id[:255],
        body=delivery.body,
        headers=delivery.headers or {},
        livemode=delivery.livemode,
        status=Status.IGNORED if ignored else Status.RECEIVED,
        result=delivery.ignore_reason[:300],
        received_at=now,
        last_delivery_at=now,
        processed_at=now if ignored else None,
        next_attempt_at=None if ignored else now + lost_after(),
    )
    if _single_statement_possible():
        row.pk = _insert_new_pg(row, queue=not ignored, now=now)
        if row.pk is not None:
            row._state.adding = False
            return Recorded(row, created=True, enqueued=not ignored)
        return _redelivery(delivery, now)
    try:
        with transaction.atomic():
            row.save(force_insert=True)
            if not ignored:
                enqueue(row.pk)
        return Recorded(row, created=True, enqueued=not ignored)
    except IntegrityError:
        pass  # already in the inbox: a redelivery (or a concurrent copy of this one)
    return _redelivery(delivery, now)


# --- the one-statement insert (PostgreSQL + ORM broker) ---------------------------------------------
# Why: the request path is a webhook's whole latency. BEGIN, two INSERTs and COMMIT are four round
# trips to the database; one INSERT … ON CONFLICT DO NOTHING with the queue row inserted by a
# data-modifying CTE is one, and a single statement is atomic on its own. The queue row is the
# exact package django-q2's ``async_task`` builds (signals, signing): it is captured from
# ``async_task`` through its documented ``broker=`` option instead of being pushed.


def _single_statement_possible() -> bool:
    return Conf.ORM == "default" and not Conf.SYNC and connections["default"].vendor == "postgresql"


_CAPTURED = "captured-for-inbox-insert"


class _CapturingBroker:
    """Stands in for the ORM broker inside ``async_task``: keeps the signed package."""

    def __init__(self):
        self.list_key = Conf.CLUSTER_NAME
        self.package = None

    def enqueue(self, package):
        self.package = package
        return _CAPTURED


def _not_captured(record: logging.LogRecord) -> bool:
    # async_task logs "Enqueued [<queue>] <id>" for every package; for a captured one that line
    # would be false (the INSERT has not happened yet) and it is a third log line per request.
    return not (isinstance(record.msg, str) and record.msg.endswith(_CAPTURED))


logging.getLogger("django-q").addFilter(_not_captured)


def _task_package(provider: str, event_id: str) -> str:
    broker = _CapturingBroker()
    async_task(
        TASK,
        provider=provider,
        event_id=event_id,
        task_name=f"webhook {provider} {event_id}"[:100],
        broker=broker,
        q_options={"ack_failure": True, "save": False},
    )
    return broker.package


def _insert_new_pg(row: WebhookEvent, *, queue: bool, now) -> int | None:
    """Insert ``row`` unless (provider, event_id) exists, plus its queue row when ``queue``, in one
    statement. Returns the new row's id, or None when it already existed (nothing written)."""
    connection = connections["default"]
    sql, fields = _insert_statement()
    params = [f.get_db_prep_save(f.pre_save(row, add=True), connection) for f in fields]
    package = _task_package(row.provider, row.event_id) if queue else ""
    with connection.cursor() as cursor:
        cursor.execute(sql, (*params, Conf.CLUSTER_NAME, package, now, queue))
        found = cursor.fetchone()
    return found[0] if found else None


@functools.cache
def _insert_statement() -> tuple[str, list]:
    """The statement's SQL, compiled once per process (Django's own INSERT … ON CONFLICT DO
    NOTHING RETURNING id for the model, so it follows the model's fields)."""
    connection = connections["default"]
    qn = connection.ops.quote_name
    fields = [f for f in WebhookEvent._meta.concrete_fields if not f.primary_key]
    query = InsertQuery(WebhookEvent, on_conflict=OnConflict.IGNORE)
    query.insert_values(fields, [WebhookEvent(provider="", event_id="")])
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = [WebhookEvent._meta.pk]
    [(insert_sql, _)] = compiler.as_sql()
    sql = (
        f"WITH ins AS ({insert_sql}), "
        f"q AS (INSERT INTO {qn(OrmQ._meta.db_table)} ({qn('key')}, {qn('payload')}, {qn('lock')}) "
        "SELECT %s, %s, %s FROM ins WHERE %s RETURNING 1) "
        "SELECT id FROM ins"
    )
    return sql, fields


def _redelivery(delivery: Delivery, now) -> Recorded:
    with transaction.atomic():
        row = WebhookEvent.objects.select_for_update().get(provider=delivery.provider, event_id=delivery.event_id)
        updates = {"deliveries": F("deliveries") + 1, "last_delivery_at": now}
        requeue = False
        if row.status == Status.FAILED or (
            row.status == Status.PROCESSED and row.provider == WebhookEvent.Provider.ACUITY
        ):
            updates.update(_reopen_fields(now))
            requeue = True
        elif row.status == Status.RECEIVED:
            # Queued already; queue again only if that task looks lost (its own run re-checks), or
            # if an Acuity row waits for the retry of a failed attempt: the delivery announces a
            # change, so it runs now, on the attempts left (not at the next backoff slot).
            # A task running now sees ``deliveries`` move when it finishes, and runs the row again.
            requeue = row.next_attempt_at is None or row.next_attempt_at <= now or _waiting_for_retry(row, now)
            if requeue:
                updates["next_attempt_at"] = now + lost_after()
        WebhookEvent.objects.filter(pk=row.pk).update(**updates)
        if requeue:
            enqueue(row.pk)
        row.refresh_from_db()
    return Recorded(row, created=False, enqueued=requeue)


def _waiting_for_retry(row: WebhookEvent, now) -> bool:
    """An Acuity row between attempts: one has run (and not finished it), none is running now.

    A row not yet attempted has its first task queued: identical deliveries collapse into it.
    Stripe rows never qualify: an ``evt_…`` redelivered carries nothing new, its schedule stands.
    """
    return (
        row.provider == WebhookEvent.Provider.ACUITY
        and row.attempts > 0
        and not (row.locked_until and row.locked_until > now)
    )


def _reopen_fields(now) -> dict:
    """A row that gets another full run: a redelivery of a failed event, or an operator's retry."""
    return {
        "status": Status.RECEIVED,
        "attempts": 0,
        "locked_until": None,
        "next_attempt_at": now + lost_after(),
        "processed_at": None,
    }


def requeue(queryset, *, any_status: bool = False) -> int:
    """Put failed (or stuck received) rows back in the queue with a fresh attempt budget;
    ``any_status``: processed and ignored rows too (rows an operator named one by one).

    Rows being processed right now (lease not expired) are skipped. Returns how many were queued.
    """
    now = timezone.now()
    count = 0
    for pk in queryset.values_list("pk", flat=True):
        with transaction.atomic():
            rows = WebhookEvent.objects.filter(pk=pk)
            if not any_status:
                rows = rows.filter(status__in=[Status.FAILED, Status.RECEIVED])
            claimed = rows.exclude(locked_until__gt=now).update(**_reopen_fields(now))
            if claimed:
                enqueue(pk)
                count += 1
    return count
