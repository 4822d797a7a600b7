"""Compare Stripe and Acuity with what we recorded, and apply whatever the webhooks missed.

1. Choose the events (every mapped event, or ``--event``), the providers (``--provider``) and the
   window (``--since``, default RECONCILE_SINCE): Stripe sessions and refunds created in it;
   Acuity appointments dated from its start to RECONCILE_ACUITY_HORIZON_DAYS ahead.
2. List, compare and apply through the same functions as the webhooks (``integrations.reconcile``),
   with a progress line on stderr when it is a terminal. ``--dry-run`` applies nothing and prints
   what it would change.
3. Print the report per event and provider; exit status 1 when the run is partial or failed.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations.reconcile import PROVIDERS
from integrations.reconcile_sources import parse_since

from ._reconcile_cli import run_and_report


class Command(BaseCommand):
    help = "Find and apply payments, refunds, bookings and cancellations that webhooks missed."

    def add_arguments(self, parser):
        parser.add_argument(
            "--since",
            default=None,
            help=f"Window: 3d, 12h, 90m, 2w or a date (default RECONCILE_SINCE, now {settings.RECONCILE_SINCE}).",
        )
        parser.add_argument(
            "--event", action="append", dest="events", metavar="SLUG", help="Only this event (repeatable)."
        )
        parser.add_argument("--provider", choices=PROVIDERS, help="Only this provider.")
        parser.add_argument("--dry-run", action="store_true", help="Change nothing; print what would change.")

    def handle(self, *args, since=None, events=None, provider=None, dry_run=False, verbosity=1, **options):
        since_text = since or settings.RECONCILE_SINCE
        try:
            window = parse_since(since_text)
        except ValueError as exc:
            raise CommandError(f"--since: {exc}")
        run_and_report(
            self,
            verbosity=verbosity,
            dry_run=dry_run,
            kind="reconcile",
            since=window,
            event_slugs=events,
            providers=[provider] if provider else None,
            options={"since": since_text},
        )
