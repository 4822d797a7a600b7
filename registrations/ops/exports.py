"""CSV and XLSX downloads of an event's registrations (the same columns as
``manage.py export_registrations``: both use ``registrations.exports``). The current table
filter (status, search) applies to the rows; the intake columns are always the event's, so the
header does not change with the filter."""

from __future__ import annotations

import csv
import io

from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.http import require_GET

from ..exports import cell_safe, export_columns, export_rows, intake_labels
from ..models import Event, Registration
from .access import staff_required
from .forms import RegistrationFilterForm


class _Echo:
    def write(self, value):
        return value


def _csv_stream(columns, rows):
    writer = csv.writer(_Echo())
    yield "\ufeff"  # BOM: Excel opens UTF-8 names (é, ñ) correctly
    yield writer.writerow(columns)
    for row in rows:
        yield writer.writerow([cell_safe(v) for v in row])


@require_GET
@staff_required
def export(request, slug, fmt):
    event = get_object_or_404(Event, slug=slug)
    if fmt not in ("csv", "xlsx"):
        raise Http404("Unknown format")
    everyone = Registration.objects.filter(event=event)
    form = RegistrationFilterForm(request.GET or None)
    qs = form.filter(everyone) if form.is_bound else everyone
    labels = intake_labels(everyone)
    columns = export_columns(event, everyone)
    rows = export_rows(qs, labels)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    filename = f"{event.slug}-registrations-{stamp}.{fmt}"
    if fmt == "csv":
        response = StreamingHttpResponse(_csv_stream(columns, rows), content_type="text/csv; charset=utf-8")
    else:
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet(title="Registrations")
        ws.append(columns)
        for row in rows:
            ws.append([cell_safe(v) for v in row])
        buf = io.BytesIO()
        wb.save(buf)
        response = HttpResponse(
            buf.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
