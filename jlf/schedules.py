"""The schedule registry: every app lists its django-q2 schedules in ``<app>.schedules.SCHEDULES``
(or ``<app>.<package>.schedules.SCHEDULES`` for a package inside an app).

Convention (read by ``manage.py setup_schedules`` and by the status page at /ops/status/):

    # notifications/schedules.py
    SCHEDULES = [
        {"name": "notifications.reminders", "func": "notifications.tasks.scan_reminders",
         "schedule_type": "I", "minutes": 5},
        {"name": "integrations.reconcile.daily", "func": "integrations.tasks.reconcile_all",
         "schedule_type": "C", "cron": "30 3 * * *"},
    ]

Each entry is a dict of ``django_q.models.Schedule`` fields; ``name`` (unique by convention,
prefix it with the app label) and ``func`` are required. ``setup_schedules`` does
``Schedule.objects.update_or_create(name=…)`` for each, so running it on every release is
idempotent and changes in code reach the database. ``next_run`` is only set when a schedule is
created (an existing schedule keeps its place in time).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from django.apps import apps
from django.conf import settings

# The worker heartbeat behind the "worker alive" line on /ops/status/ (see jlf.health).
HEARTBEAT_NAME = "jlf.heartbeat"
HEARTBEAT_MINUTES = 1

SCHEDULES = [
    {
        "name": HEARTBEAT_NAME,
        "func": "jlf.health.heartbeat",
        "schedule_type": "I",
        "minutes": HEARTBEAT_MINUTES,
    },
]

REQUIRED_KEYS = ("name", "func")


def project_apps():
    """Apps whose code lives in this repository (third-party apps are never imported here)."""
    base = Path(settings.BASE_DIR).resolve()
    return [
        cfg
        for cfg in apps.get_app_configs()
        if Path(cfg.path).resolve().is_relative_to(base)
        and ".venv" not in Path(cfg.path).resolve().relative_to(base).parts
    ]


def schedule_modules() -> list[str]:
    """``<app>.schedules`` and ``<app>.<package>.schedules`` (one level down, e.g.
    ``registrations.cohost.schedules``) for every project app, in app order."""
    names = []
    for cfg in project_apps():
        root = Path(cfg.path)
        if (root / "schedules.py").is_file():
            names.append(f"{cfg.name}.schedules")
        for sub in sorted(root.iterdir()):
            if (sub / "__init__.py").is_file() and (sub / "schedules.py").is_file():
                names.append(f"{cfg.name}.{sub.name}.schedules")
    return names


def registered_schedules() -> list[dict]:
    """All ``SCHEDULES`` entries of the project, validated (``ValueError`` names the module)."""
    found, seen = [], {}
    for module_name in schedule_modules():
        module = importlib.import_module(module_name)
        for entry in getattr(module, "SCHEDULES", []):
            missing = [k for k in REQUIRED_KEYS if not entry.get(k)]
            if missing:
                raise ValueError(f"{module_name}.SCHEDULES: an entry lacks {', '.join(missing)}: {entry!r}")
            if entry["name"] in seen:
                raise ValueError(
                    f"schedule name {entry['name']!r} is registered twice ({seen[entry['name']]} and {module_name})"
                )
            seen[entry["name"]] = module_name
            found.append(dict(entry))
    return found
