"""django-q2 schedules of the integrations app (installed by ``manage.py setup_schedules``)."""

SCHEDULES = [
    {
        # Queues received webhook deliveries whose next attempt is due: the retry after a
        # failure (with backoff) or a task that got lost. Idempotent; a no-op while paused.
        "name": "integrations.webhooks.sweep",
        "func": "integrations.tasks.sweep_webhooks",
        "schedule_type": "I",
        "minutes": 1,
    },
]
