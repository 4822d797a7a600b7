"""Re-derive the status and review items of every registration of some events, now.

    manage.py rederive_statuses --event spring-retreat [--event …]
    manage.py rederive_statuses --all

Statuses are re-derived by themselves whenever a fact arrives and when an event's kind or price
is changed in the admin or an events file. This command is for the rest: after an upgrade that
changes how statuses are derived, or to repair an event edited directly in the database. Each
registration is its own short transaction (webhooks keep flowing); safe to run at any time and
any number of times: a registration already right is left alone and gets no audit row.
"""

from django.core.management.base import BaseCommand, CommandError

from registrations.models import Event
from registrations.services import recompute_event


class Command(BaseCommand):
    help = "Re-derive the status and review items of every registration of the given events (or --all)."

    def add_arguments(self, parser):
        parser.add_argument("--event", action="append", default=[], metavar="SLUG", help="an event's slug")
        parser.add_argument("--all", action="store_true", help="every event")

    def handle(self, *args, **options):
        slugs, every = options["event"], options["all"]
        if bool(slugs) == bool(every):
            raise CommandError("Name the events with --event SLUG (repeatable), or use --all.")
        events = Event.objects.order_by("starts_at", "pk")
        if slugs:
            events = events.filter(slug__in=slugs)
            missing = sorted(set(slugs) - set(events.values_list("slug", flat=True)))
            if missing:
                raise CommandError(f"No event with slug {', '.join(missing)}.")
        total = 0
        for event in events:
            count = event.registrations.count()
            changed = recompute_event(event.pk, "manage.py rederive_statuses")
            total += changed
            self.stdout.write(f"{event.slug}: {count} registration(s), {changed} changed status")
        self.stdout.write(f"Done: {total} registration(s) changed status.")
