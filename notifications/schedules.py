"""django-q2 schedules of the notifications app (installed by ``manage.py setup_schedules``).

``catch_up`` is off for the whole cluster (``Q_CLUSTER["catch_up"] = False`` in settings): after
downtime the scan runs once, not once per missed slot; it selects everything that became due
meanwhile anyway.
"""

SCHEDULES = [
    {
        "name": "notifications.reminders",
        "func": "notifications.tasks.scan_reminders",
        "schedule_type": "I",
        "minutes": 5,
        "repeats": -1,
    },
    {
        # 07:00 in the server's TIME_ZONE; the digest covers the day before it runs (since 07:00 yesterday).
        "name": "notifications.operator_digest",
        "func": "notifications.tasks.send_operator_digest",
        "schedule_type": "C",
        "cron": "0 7 * * *",
        "repeats": -1,
    },
]
