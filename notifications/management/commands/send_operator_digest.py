"""Send the operators' daily digest now (the schedule sends it every morning).

1. Collect the day before (since this time yesterday): new review items, failed webhooks, failed
   messages, stuck reminders.
2. Nothing new → send nothing.
3. Otherwise email every active staff user with an address, once per day each.

``--dry-run`` prints the text instead of sending.
"""

from django.core.management.base import BaseCommand
from django.template.loader import render_to_string


class Command(BaseCommand):
    help = "Send the operator digest now (once per day per operator; nothing if nothing happened)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Print the digest; send nothing.")

    def handle(self, *args, dry_run=False, **options):
        from notifications.digest import digest_context, has_news, recipients, send_digest

        if dry_run:
            ctx = digest_context()
            if not has_news(ctx):
                self.stdout.write("Nothing to report: no digest would be sent.")
                return
            self.stdout.write(render_to_string("notifications/digest/digest.txt", ctx))
            self.stdout.write(f"Would go to {recipients().count()} operator(s).")
            return
        result = send_digest()
        self.stdout.write(self.style.SUCCESS(str(result)))
