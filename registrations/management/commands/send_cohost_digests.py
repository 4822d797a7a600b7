"""Send the co-host daily digests now (the django-q2 schedule does this hourly).

1. Run ``registrations.cohost.digest.send_daily_digests`` (safe to run twice: each co-host
   gets at most one digest per 20 hours).
2. Print how many were sent, queued for a retry by the message log, skipped because there was
   nothing to say, already sent, failed.
3. Exit non-zero if any failed, so cron notices.
"""

from django.core.management.base import BaseCommand, CommandError

from registrations.cohost.digest import send_daily_digests


class Command(BaseCommand):
    help = "Send the opt-in daily digest to co-hosts (new registrations and who is still incomplete)."

    def handle(self, *args, **options):
        summary = send_daily_digests()
        self.stdout.write(
            f"Co-host digests: {summary['sent']} sent, {summary['queued']} queued for retry, "
            f"{summary['nothing_to_say']} with nothing to say, "
            f"{summary['already_sent']} already sent today, {summary['failed']} failed."
        )
        if summary["failed"]:
            raise CommandError(f"{summary['failed']} digest(s) could not be sent; see the log.")
