"""django-q2 schedules owned by the co-host portal, read by the ``setup_schedules`` command.

Each dict holds ``django_q.models.Schedule`` field values; ``name`` is the stable key the
command creates or updates by. The digest runs hourly: ``send_daily_digests`` sends each
co-host at most one digest per 20 hours, so an hourly run delivers the day's digest soon after
a missed or failed run instead of a day later, and running it twice is harmless.
"""

SCHEDULES = [
    {
        "name": "registrations.cohost.daily_digest",
        "func": "registrations.cohost.digest.send_daily_digests",
        "schedule_type": "C",  # django_q.models.Schedule.CRON
        "cron": "5 * * * *",
        "repeats": -1,
    },
]
