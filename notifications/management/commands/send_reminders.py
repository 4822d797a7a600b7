"""Run one reminder scan now (the schedule runs the same thing every 5 minutes).

1. Sweep reminders left open (deferred ones whose time came, lost pending ones) and messages
   due a retry.
2. Select the registrations due a reminder and claim them (unique per registration and number:
   safe while the scheduled scan runs too).
3. Process them: queue django-q2 tasks (default), or ``--inline`` right here.

``--dry-run`` lists what is due and claims nothing.
"""

from django.core.management.base import BaseCommand

from registrations.models import Registration


class Command(BaseCommand):
    help = "Run the reminder scan now: select, claim and send (or queue) due reminders."

    def add_arguments(self, parser):
        parser.add_argument("--inline", action="store_true", help="Process here instead of queueing tasks.")
        parser.add_argument("--dry-run", action="store_true", help="Only list what is due; claim and send nothing.")

    def handle(self, *args, inline=False, dry_run=False, **options):
        from notifications.scan import run_scan, select_due

        if dry_run:
            due, result = select_due()
            regs = Registration.objects.select_related("attendee", "event").in_bulk([pk for pk, _, _ in due])
            for pk, status, number in due:
                reg = regs[pk]
                self.stdout.write(f"  {reg.event.slug}  {reg.reference}  {reg.attendee.email}  {status}  #{number}")
            self.stdout.write(
                self.style.SUCCESS(
                    f"Dry run: {result.due} due across {result.events} event(s)"
                    f" ({result.quiet_events} in quiet hours); nothing claimed."
                )
            )
            return
        result = run_scan(process="inline" if inline else "enqueue")
        summary = result.as_dict()
        self.stdout.write(
            self.style.SUCCESS(
                f"{summary['due']} due, {summary['claimed']} claimed, {summary['swept']} picked up again, "
                f"{summary['retried_messages']} message retries"
                + (f"; outcomes: {summary['outcomes']}" if inline else "; queued for the worker")
            )
        )
