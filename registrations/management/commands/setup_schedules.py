"""Create or update every django-q2 schedule the code declares. Safe to run on every release.

1. Collect ``SCHEDULES`` from ``<app>.schedules`` and ``<app>.<package>.schedules`` of every
   project app (convention and format: ``jlf/schedules.py``).
2. ``Schedule.objects.update_or_create(name=…)`` each one: code changes (function, interval,
   cron) reach the database; a new schedule starts now, an existing one keeps its next run.
3. Report schedules in the database that no code declares. They are left alone (an operator
   may have added them in the admin) unless ``--prune`` is given.
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

from jlf.schedules import registered_schedules


class Command(BaseCommand):
    help = "Create or update the django-q2 schedules declared in <app>.schedules.SCHEDULES (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--prune", action="store_true", help="Delete named schedules that no code declares.")
        parser.add_argument("--dry-run", action="store_true", help="Show what would change; change nothing.")

    def handle(self, *args, prune=False, dry_run=False, **options):
        try:
            declared = registered_schedules()
        except (ValueError, ImportError) as exc:
            raise CommandError(f"Cannot read the schedule registry: {exc}")

        created = updated = unchanged = 0
        with transaction.atomic():
            for entry in declared:
                entry = dict(entry)
                name = entry.pop("name")
                existing = Schedule.objects.filter(name=name).order_by("id")
                current = existing.first()
                if current is None:
                    created += 1
                    self.stdout.write(f"  + {name} ({entry['func']})")
                    schedule = Schedule(name=name, next_run=entry.pop("next_run", timezone.now()), **entry)
                    self._validate(schedule)
                    if not dry_run:
                        schedule.save()
                    continue
                entry.pop("next_run", None)
                changes = {k: v for k, v in entry.items() if getattr(current, k) != v}
                if existing.count() > 1:
                    # No unique constraint on name in django-q2: collapse accidental duplicates.
                    self.stdout.write(f"  ! {name}: removing {existing.count() - 1} duplicate(s)")
                    if not dry_run:
                        existing.exclude(pk=current.pk).delete()
                if changes:
                    updated += 1
                    self.stdout.write(f"  ~ {name}: {', '.join(sorted(changes))}")
                    for key, value in changes.items():
                        setattr(current, key, value)
                    self._validate(current)
                    if not dry_run:
                        current.save()
                else:
                    unchanged += 1

            names = {e["name"] for e in declared}
            strays = Schedule.objects.exclude(name__in=names).exclude(name=None).order_by("name")
            for stray in strays:
                verb = "deleting" if prune else "left alone (not declared in code; --prune deletes it)"
                self.stdout.write(f"  ? {stray.name}: {verb}")
            if prune and not dry_run:
                strays.delete()

            if dry_run:
                transaction.set_rollback(True)

        prefix = "Dry run: would have " if dry_run else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"{prefix}{created} created, {updated} updated, {unchanged} unchanged ({len(declared)} declared)."
            )
        )

    @staticmethod
    def _validate(schedule):
        try:
            schedule.full_clean()
        except ValidationError as exc:
            raise CommandError(f"Schedule {schedule.name!r} is invalid: {exc.message_dict}")
