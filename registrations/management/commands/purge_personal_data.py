"""Anonymise the attendees of past events (also in the audit trail); keep amounts, ids and who did what when.

    manage.py purge_personal_data --event spring-retreat-2024 [--event …] [--dry-run] [--yes]
    manage.py purge_personal_data --older-than 2y            [--dry-run] [--yes]

1. Pick the events: the named ones (every one must be over, or nothing happens), or every event
   that ended more than the given time ago (``2y``, ``18m``, ``90d``, ``6w``).
2. Plan (``registrations.privacy.plan_purge``): who is anonymised, who is left alone because
   they are also registered for an event outside the purge, which payments and bookings lose
   their contact details.
3. Unless ``--dry-run``: ask for confirmation (``--yes`` skips it; required when not run from a
   terminal), then purge in one transaction and write a ``personal_data.purged`` audit row.
4. Print the summary.
"""

from __future__ import annotations

import re
import sys
from calendar import monthrange
from datetime import datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from registrations.audit import Actor
from registrations.privacy import (
    PurgeRefused,
    event_end,
    events_by_slugs,
    events_older_than,
    plan_purge,
    purge,
)

AGE = re.compile(r"^\s*(\d{1,4})\s*([ymwd])\s*$", re.IGNORECASE)
SHOWN_KEPT = 20


def months_before(moment: datetime, months: int) -> datetime:
    month_index = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(month_index, 12)
    month += 1
    day = min(moment.day, monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def parse_age(value: str, now: datetime) -> datetime:
    """``2y`` / ``18m`` / ``6w`` / ``90d`` → the moment that long before ``now``."""
    match = AGE.match(value or "")
    if not match:
        raise CommandError(f"--older-than: {value!r} is not an age like 2y, 18m, 6w or 90d.")
    number, unit = int(match.group(1)), match.group(2).lower()
    if unit == "y":
        return months_before(now, 12 * number)
    if unit == "m":
        return months_before(now, number)
    if unit == "w":
        return now - timedelta(weeks=number)
    return now - timedelta(days=number)


class Command(BaseCommand):
    help = (
        "Anonymise the attendees of past events (email → anon-<id>@invalid, names, phones, intake "
        "answers and aliases removed, also inside the audit trail) while keeping amounts, provider ids "
        "and every audit row's action, time and actor."
    )

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--event", action="append", metavar="SLUG", help="A past event (repeatable).")
        which.add_argument(
            "--older-than", metavar="AGE", help="Every event that ended more than AGE ago: 2y, 18m, 90d."
        )
        parser.add_argument("--dry-run", action="store_true", help="Show what would change; change nothing.")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args, event=None, older_than=None, dry_run=False, yes=False, **options):
        now = timezone.now()
        try:
            if event:
                events = events_by_slugs(event)
            else:
                cutoff = parse_age(older_than, now)
                events = events_older_than(cutoff)
                if not events:
                    self.stdout.write(f"No event ended before {cutoff:%Y-%m-%d}. Nothing to do.")
                    return
        except PurgeRefused as exc:
            raise CommandError(str(exc))

        plan = plan_purge(events)
        self._describe(plan)
        if not dry_run and not yes and not self._confirmed(plan):
            raise CommandError("Not confirmed. Nothing was changed.")

        counts = purge(plan, actor=Actor.system("command:purge_personal_data"), dry_run=dry_run)
        self._summary(counts, dry_run)

    # --- output ----------------------------------------------------------------------------

    def _describe(self, plan):
        self.stdout.write(f"Events ({len(plan.events)}), all over:")
        for e in plan.events:
            self.stdout.write(f"  {e.slug}  {e.name}  (ended {event_end(e):%Y-%m-%d})")
        if plan.kept:
            self.stdout.write(
                self.style.WARNING(
                    f"Left alone: {len(plan.kept)} attendee(s) also registered for events not being purged "
                    "(their contact details are still needed there):"
                )
            )
            for attendee_id, slugs in list(plan.kept.items())[:SHOWN_KEPT]:
                self.stdout.write(f"  attendee #{attendee_id}: also registered for {', '.join(slugs)}")
            if len(plan.kept) > SHOWN_KEPT:
                self.stdout.write(f"  … and {len(plan.kept) - SHOWN_KEPT} more")

    def _confirmed(self, plan) -> bool:
        if not sys.stdin.isatty():
            raise CommandError("This cannot be undone: run it from a terminal to confirm, or pass --yes.")
        answer = input(
            f"Anonymise {len(plan.attendee_ids)} attendee(s) of {len(plan.events)} event(s)? "
            "This cannot be undone. Type 'purge' to go ahead: "
        )
        return answer.strip().lower() == "purge"

    def _summary(self, counts, dry_run):
        lines = [
            f"Attendees anonymised: {counts['attendees_anonymised']}"
            + (
                f" ({counts['attendees_already_anonymised']} already were)"
                if counts["attendees_already_anonymised"]
                else ""
            ),
            f"Attendees left alone: {counts['attendees_kept']}",
            f"Payments blanked: {counts['payments_blanked']}; bookings blanked: {counts['bookings_blanked']}",
            f"Aliases deleted: {counts['aliases_deleted']}; review items checked: {counts['review_items_scrubbed']}",
        ]
        extra = {k: v for k, v in counts.items() if k not in _BASE_KEYS}
        lines += [f"{label.replace('_', ' ').capitalize()}: {number}" for label, number in sorted(extra.items())]
        for line in lines:
            self.stdout.write(f"  {line}")
        if dry_run:
            self.stdout.write(
                self.style.WARNING("Dry run: nothing was changed; the counts are what a real run would do.")
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Done. Amounts, provider ids, statuses and every audit row's action, time and actor "
                    f"were kept (audit entry #{counts['audit_id']}, personal_data.purged)."
                )
            )


_BASE_KEYS = {
    "events",
    "attendees_anonymised",
    "attendees_already_anonymised",
    "attendees_kept",
    "payments_blanked",
    "bookings_blanked",
    "aliases_deleted",
    "review_items_scrubbed",
    "audit_id",
}
