"""django-q2 schedules of the integrations app (installed by ``manage.py setup_schedules``)."""

from datetime import datetime

from croniter import croniter
from django.conf import settings
from django.utils import timezone


def _daily_cron(at: str) -> str:
    """RECONCILE_AT "HH:MM" (in TIME_ZONE, as django-q2 evaluates cron in local time) → cron."""
    try:
        hour, minute = (int(part) for part in at.strip().split(":"))
    except ValueError:
        raise ValueError(f"RECONCILE_AT must look like 03:15, not {at!r}") from None
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(f"RECONCILE_AT must look like 03:15, not {at!r}")
    return f"{minute} {hour} * * *"


RECONCILE_CRON = _daily_cron(settings.RECONCILE_AT)

SCHEDULES = [
    {
        # Queues received webhook deliveries whose next attempt is due: the retry after a
        # failure (with backoff) or a task that got lost. Idempotent; a no-op while paused.
        "name": "integrations.webhooks.sweep",
        "func": "integrations.tasks.sweep_webhooks",
        "schedule_type": "I",
        "minutes": 1,
    },
    {
        # Daily reconciliation against the Stripe and Acuity APIs (integrations/reconcile.py).
        # next_run: the first run is the next RECONCILE_AT, not the moment the schedule is made.
        # timeout: a large account takes minutes, far over Q_CLUSTER["timeout"]; when the ORM
        # broker re-presents the still-running task after Q_CLUSTER["retry"], the copy finds
        # the run lock taken and returns at once. catch_up is off globally (Q_CLUSTER).
        "name": "integrations.reconcile.daily",
        "func": "integrations.reconcile.scheduled_reconcile",
        "schedule_type": "C",
        "cron": RECONCILE_CRON,
        "next_run": croniter(RECONCILE_CRON, timezone.localtime()).get_next(datetime),
        "kwargs": repr({"q_options": {"timeout": settings.RECONCILE_TASK_TIMEOUT}}),
    },
]
