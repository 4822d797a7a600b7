"""Redact the audit trail of attendees purged before purges redacted it.

    manage.py redact_purged_audit [--dry-run]

``purge_personal_data`` redacts the purged attendees' addresses and phone numbers inside the
audit trail; purges run before it did (anonymised attendees) left them there. This runs the same
redaction for every anonymised attendee (``registrations.privacy.redact_earlier_purges``). The
release step runs it on every deploy: once their rows are clean there is nothing left to find,
so later runs change nothing and write nothing.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from registrations.audit import Actor
from registrations.privacy import redact_earlier_purges


class Command(BaseCommand):
    help = (
        "Redact the addresses and phone numbers that purges made before the audit trail was redacted "
        "left in audit rows (the same redaction as purge_personal_data). Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what would change; change nothing.")

    def handle(self, *args, dry_run=False, **options):
        counts = redact_earlier_purges(actor=Actor.system("command:redact_purged_audit"), dry_run=dry_run)
        if not counts["attendees"]:
            self.stdout.write("Audit trail: no personal data of purged attendees left. Nothing to do.")
            return
        verb = "would be redacted (dry run: nothing was changed)" if dry_run else "redacted"
        self.stdout.write(
            f"Audit trail of attendees purged earlier: {counts['audit_rows_redacted']} rows {verb}, "
            f"for {counts['attendees']} attendee(s)."
        )
