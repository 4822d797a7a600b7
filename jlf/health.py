"""Health: ``GET /healthz`` for machines, ``/ops/status/`` for operators.

``/healthz`` answers "ok" (200) or "fail" (503) after one trivial query. It is served by
``HealthCheckMiddleware`` before the host check, the HTTPS redirect and the session machinery,
because the callers are machines that reach the container directly: Railway's deploy check
uses the host ``healthcheck.railway.app`` over plain HTTP, Docker's HEALTHCHECK uses
``127.0.0.1``. Neither is in ALLOWED_HOSTS, and neither should be redirected to https.

How "worker alive" is decided: django-q2's own ``Stat.get_all()`` reads cluster statistics
from Django's cache, and this project's cache is per-process (LocMem), so the web process can
never see the worker's statistics. Instead, a ``jlf.heartbeat`` schedule (``jlf/schedules.py``)
runs every minute; its success row proves the whole chain works end to end: the scheduler
fired, the broker delivered, a worker ran it and the monitor saved the result. The worker is
alive when the newest heartbeat finished less than ``HEARTBEAT_STALE`` ago. The heartbeat keeps
only its own latest success row, so it never pushes real task results out of ``save_limit``.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import Max
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from .schedules import HEARTBEAT_NAME, registered_schedules

log = logging.getLogger(__name__)

HEALTHZ_PATH = "/healthz"
HEARTBEAT_FUNC = "jlf.health.heartbeat"
HEARTBEAT_STALE = timedelta(minutes=5)
QUEUE_AGE_WARN = timedelta(minutes=10)


# --- /healthz ------------------------------------------------------------------------------


def database_ok(alias: str = DEFAULT_DB_ALIAS) -> bool:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        log.warning("health check: database unreachable", exc_info=True)
        return False


@never_cache
def healthz(request):
    if database_ok():
        return HttpResponse("ok", content_type="text/plain")
    return HttpResponse("fail", status=503, content_type="text/plain")


class HealthCheckMiddleware:
    """Serve /healthz before anything that would reject or redirect a direct, plain-HTTP probe."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.rstrip("/") == HEALTHZ_PATH and request.method in ("GET", "HEAD"):
            return healthz(request)
        return self.get_response(request)


# --- the heartbeat task --------------------------------------------------------------------


def heartbeat():
    """Run by the ``jlf.heartbeat`` schedule. Keeps only the newest earlier heartbeat row (this
    run's own row is saved after it returns), so its results never crowd out real ones."""
    from django_q.models import Success

    rows = Success.objects.filter(func=HEARTBEAT_FUNC).order_by("-stopped").values_list("pk", flat=True)
    old = list(rows[1:])
    if old:
        Success.objects.filter(pk__in=old).delete()
    return timezone.now().isoformat()


# --- /ops/status/ --------------------------------------------------------------------------


@dataclass
class Check:
    label: str
    state: str  # ok | warn | fail | unknown
    detail: str = ""
    rows: list = field(default_factory=list)


def _ago(when, now) -> str:
    if when is None:
        return "never"
    seconds = int((now - when).total_seconds())
    if seconds < 0:
        return f"in {_span(-seconds)}"
    return f"{_span(seconds)} ago"


def _span(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{seconds // 60} min"
    if seconds < 48 * 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} days"


def check_database() -> Check:
    if database_ok():
        vendor = connections[DEFAULT_DB_ALIAS].vendor
        return Check("Database", "ok", f"reachable ({vendor})")
    return Check("Database", "fail", "unreachable: every page and webhook is failing")


def check_migrations() -> Check:
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        return Check("Migrations", "unknown", f"could not read the migration table: {exc.__class__.__name__}")
    if plan:
        names = [f"{m.app_label}.{m.name}" for m, _backwards in plan]
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        return Check("Migrations", "fail", f"{len(names)} not applied: {shown}. Run the release command (migrate).")
    return Check("Migrations", "ok", "all applied")


def check_worker(now) -> Check:
    from django_q.conf import Conf
    from django_q.models import Schedule, Success

    if Conf.SAVE_LIMIT is not None and Conf.SAVE_LIMIT < 0:
        return Check("Worker", "unknown", "Q_CLUSTER save_limit is negative: successful tasks are not recorded")
    last = Success.objects.filter(func=HEARTBEAT_FUNC).aggregate(at=Max("stopped"))["at"]
    schedule = Schedule.objects.filter(name=HEARTBEAT_NAME).first()
    if schedule is None and last is None:
        return Check("Worker", "unknown", f"no {HEARTBEAT_NAME} schedule: run `manage.py setup_schedules`")
    if last is not None and now - last <= HEARTBEAT_STALE:
        return Check("Worker", "ok", f"alive: last heartbeat {_ago(last, now)}")
    detail = f"no heartbeat for {_ago(last, now).removesuffix(' ago')}" if last else "no heartbeat yet"
    if schedule is not None and schedule.next_run and now - schedule.next_run > HEARTBEAT_STALE:
        detail += f"; the scheduler is behind (heartbeat was due {_ago(schedule.next_run, now)})"
    return Check("Worker", "fail", detail + ". Is the worker service (qcluster) running?")


def check_queue(now) -> Check:
    from django_q.models import OrmQ

    depth = OrmQ.objects.count()
    if not depth:
        return Check("Queue", "ok", "empty")
    oldest = OrmQ.objects.order_by("id").first()
    started = oldest.task.get("started") if isinstance(oldest.task, dict) else None
    started = started or oldest.lock
    state = "warn" if started and now - started > QUEUE_AGE_WARN else "ok"
    return Check("Queue", state, f"{depth} waiting; oldest queued {_ago(started, now)}")


def check_failures(now) -> Check:
    from django_q.models import Failure

    since = now - timedelta(days=1)
    failures = Failure.objects.filter(stopped__gte=since)
    count = failures.count()
    if not count:
        return Check("Failed tasks (24 h)", "ok", "none")
    rows = [f"{f.func} — {_ago(f.stopped, now)}" for f in failures.order_by("-stopped")[:5]]
    return Check("Failed tasks (24 h)", "warn", f"{count} failed; see admin → Failed tasks", rows)


def check_webhooks(now) -> Check:
    """The last webhook per provider, and the dashboard's warning (``ops.stats.webhook_pulse``,
    one indexed lookup per provider): Stripe or Acuity silent while an event is on sale."""
    try:
        importlib.import_module("integrations.models")
        from registrations.models import Event
        from registrations.ops.stats import webhook_pulse
    except ImportError:
        return Check("Last webhook", "unknown", "unknown (the webhook inbox is not installed)")
    try:
        pulses = webhook_pulse(has_upcoming=Event.objects.filter(starts_at__gte=now).exists())
    except DatabaseError:
        return Check("Last webhook", "unknown", "unknown (the webhook inbox table is missing)")
    rows = [f"{p.label}: {_ago(p.last, now)}" for p in pulses]
    warnings = [p.warning for p in pulses if p.warning]
    if warnings:
        return Check("Last webhook", "warn", " ".join(warnings), rows)
    return Check("Last webhook", "ok", "per provider", rows)


def _next_run(when, now) -> str:
    """ "next run in 2 min"; one that is due reads "due now" (the scheduler picks it up within a
    minute or so) or, later than that, "overdue by 42 min" — not "next run 0 s ago"."""
    if when is None or when > now:
        return f"next run {_ago(when, now)}"
    late = int((now - when).total_seconds())
    return "due now" if late < 90 else f"overdue by {_span(late)}"


def check_schedules(now) -> Check:
    from django_q.models import Schedule

    present = {s.name: s for s in Schedule.objects.exclude(name=None)}
    try:
        expected = [entry["name"] for entry in registered_schedules()]
    except ValueError as exc:
        return Check("Schedules", "fail", f"the schedule registry is invalid: {exc}")
    missing = [name for name in expected if name not in present]
    rows = [f"{name}: {_next_run(s.next_run, now)}" for name, s in sorted(present.items())]
    rows += [f"{name}: MISSING" for name in missing]
    if missing:
        return Check("Schedules", "fail", f"{len(missing)} missing: run `manage.py setup_schedules`", rows)
    return Check("Schedules", "ok", f"{len(present)} present", rows)


def collect(now=None) -> list[Check]:
    now = now or timezone.now()
    database = check_database()
    if database.state == "fail":
        return [database]
    checks = [database, check_migrations()]
    for fn in (check_worker, check_queue, check_failures, check_webhooks, check_schedules):
        try:
            checks.append(fn(now))
        except DatabaseError as exc:
            # A table of a not-yet-migrated app must not take the whole page down.
            checks.append(Check(fn.__name__.removeprefix("check_").capitalize(), "unknown", exc.__class__.__name__))
    return checks


@never_cache
@staff_member_required
def status(request):
    checks = collect()
    worst = (
        "fail"
        if any(c.state == "fail" for c in checks)
        else ("warn" if any(c.state in ("warn", "unknown") for c in checks) else "ok")
    )
    context = {
        "checks": checks,
        "overall": worst,
        "now": timezone.now(),
        "read_only_mode": settings.READ_ONLY_MODE,
        "environment": settings.JLF_ENV,
    }
    return render(request, "ops/status.html", context)
