"""Create or update events and their provider mappings from a YAML or JSON file.

1. Read and validate the whole file (nothing is written when any entry is invalid).
2. Create or update each event by slug.
3. Add mappings (payment link / price / metadata / appointment type → event), replaying any
   stored signals that were waiting for them.
4. Print what changed. Running the same file twice changes nothing the second time.
"""

from django.core.management.base import BaseCommand, CommandError

from registrations.audit import Actor
from registrations.importing import ImportFileError, import_events, load_file


class Command(BaseCommand):
    help = "Create or update events and their Stripe/Acuity mappings from a YAML or JSON file (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="path to a .yaml/.yml or .json file (format: docs/events-file.md)")
        parser.add_argument("--dry-run", action="store_true", help="validate and show what would change")

    def handle(self, *args, file, dry_run, **options):
        try:
            entries = load_file(file)
            report = import_events(entries, Actor.system("command:import_events"), dry_run=dry_run)
        except ImportFileError as exc:
            raise CommandError(str(exc))
        prefix = "[dry run] would have " if dry_run else ""
        self.stdout.write(f"{prefix}created {len(report.created)}: {', '.join(report.created) or '-'}")
        self.stdout.write(f"{prefix}updated {len(report.updated)}: {', '.join(report.updated) or '-'}")
        if not dry_run:
            self.stdout.write(f"unchanged {len(report.unchanged)}: {', '.join(report.unchanged) or '-'}")
            self.stdout.write(f"mappings added {report.mappings_added}, stored signals replayed {report.replayed}")
            if report.replay_failed:
                self.stdout.write(
                    self.style.WARNING(
                        f"{report.replay_failed} stored signal(s) could not be replayed: see the log; "
                        "the daily reconciliation tries them again"
                    )
                )
            for moved in report.mappings_moved:
                self.stdout.write(self.style.WARNING(f"mapping moved: {moved}"))
