"""Export registrations to stdout as CSV (default) or JSON.

1. Pick the registrations: one event (``--event SLUG``) or every event.
2. Build the header with ``registrations.exports.export_columns`` — the same columns, in the
   same order, as the CSV/XLSX download on the event page (/ops/events/<slug>/).
3. Stream the rows (``export_rows``) to stdout: CSV with formula-looking text cells made
   harmless for spreadsheets, or a JSON array of objects keyed by column.

    manage.py export_registrations --event spring-retreat > spring.csv
    manage.py export_registrations --format json > all.json
"""

import json

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder

from registrations.exports import export_columns, export_rows, intake_labels, rows_as_dicts, write_csv
from registrations.models import Event, Registration


class Command(BaseCommand):
    help = "Export registrations (one event or all) as CSV or JSON to stdout, with intake answers as columns."

    def add_arguments(self, parser):
        parser.add_argument("--event", metavar="SLUG", help="only this event (default: every event)")
        parser.add_argument("--format", choices=["csv", "json"], default="csv")

    def handle(self, *args, event=None, format="csv", **options):
        selected = None
        if event:
            selected = Event.objects.filter(slug=event).first()
            if selected is None:
                known = ", ".join(Event.objects.order_by("slug").values_list("slug", flat=True)[:20]) or "none"
                raise CommandError(f"No event with slug {event!r}. Known slugs: {known}")
        qs = Registration.objects.filter(event=selected) if selected else Registration.objects.all()
        labels = intake_labels(qs)
        columns = export_columns(selected, qs)
        rows = export_rows(qs, labels)
        if format == "csv":
            write_csv(self.stdout, columns, rows)
            return
        self.stdout.write("[", ending="")
        for n, row in enumerate(rows_as_dicts(columns, rows)):
            self.stdout.write(("," if n else "") + "\n" + json.dumps(row, cls=DjangoJSONEncoder), ending="")
        self.stdout.write("\n]")
