"""Pull an event's whole history from Stripe and Acuity (for an event mapped after sales began).

1. The event(s) given with ``--event`` (required): every Checkout Session of its payment links
   (no date limit), every refund, and its Acuity appointments from RECONCILE_BACKFILL_EARLIEST to
   the horizon.
2. The same machinery as ``manage.py reconcile``: same apply functions, same report, same lock;
   ``--dry-run`` changes nothing.
"""

from django.core.management.base import BaseCommand

from integrations.reconcile import PROVIDERS

from ._reconcile_cli import run_and_report


class Command(BaseCommand):
    help = "Import an event's whole payment and booking history from Stripe and Acuity."

    def add_arguments(self, parser):
        parser.add_argument(
            "--event", action="append", dest="events", metavar="SLUG", required=True, help="Event slug (repeatable)."
        )
        parser.add_argument("--provider", choices=PROVIDERS, help="Only this provider.")
        parser.add_argument("--dry-run", action="store_true", help="Change nothing; print what would change.")

    def handle(self, *args, events=None, provider=None, dry_run=False, verbosity=1, **options):
        run_and_report(
            self,
            verbosity=verbosity,
            dry_run=dry_run,
            kind="backfill",
            since=None,
            event_slugs=events,
            providers=[provider] if provider else None,
            options={"since": None},
        )
