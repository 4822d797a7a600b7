"""Load the demo: events from demo/events.yaml, registrations in every status (through the same
apply functions as webhooks), one review item of each kind, a demo operator and a co-host.

Refuses to run in production. Safe to run again (a no-op the second time).
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from registrations import demo


class Command(BaseCommand):
    help = "Load demo events, registrations in every status and a demo operator (development only)."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("seed_demo refuses to run with JLF_ENV=production.")
        demo.seed(self.stdout)
        self.stdout.write(
            f"demo operator: username '{demo.OPERATOR_USERNAME}', password '{demo.OPERATOR_PASSWORD}'; "
            f"co-host: {demo.COHOST_EMAIL} (magic link via /cohost/login/)"
        )
