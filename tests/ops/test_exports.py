"""Exports: the event page's CSV/XLSX and ``manage.py export_registrations`` have the same
columns (one definition in registrations/exports.py), with both sides' facts and the intake
answers as columns."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from openpyxl import load_workbook

from registrations.exports import BASE_COLUMNS, cell_safe, export_columns

from .scenario import book, pay

pytestmark = pytest.mark.django_db


def download(client, event, fmt, query=""):
    response = client.get(reverse("ops:export", args=[event.slug, fmt]) + (f"?{query}" if query else ""))
    assert response.status_code == 200
    return response


def ui_csv(client, event, query=""):
    response = download(client, event, "csv", query)
    assert response["Content-Disposition"].startswith(f'attachment; filename="{event.slug}-registrations-')
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def command_csv(*args):
    out = io.StringIO()
    call_command("export_registrations", *args, stdout=out)
    return list(csv.reader(io.StringIO(out.getvalue())))


def test_the_ui_export_and_the_command_have_the_same_columns_and_rows(ops_client, world):
    ui = ui_csv(ops_client, world.event)
    cli = command_csv("--event", world.event.slug)
    assert ui[0] == cli[0] == export_columns(world.event)
    assert ui == cli
    xlsx = load_workbook(io.BytesIO(download(ops_client, world.event, "xlsx").content), read_only=True)
    rows = list(xlsx.active.iter_rows(values_only=True))
    assert list(rows[0]) == ui[0]
    assert len(rows) == len(ui)


def test_intake_answers_become_columns(ops_client, world):
    header, *rows = ui_csv(ops_client, world.event)
    assert header[: len(BASE_COLUMNS)] == BASE_COLUMNS
    assert header[len(BASE_COLUMNS) :] == ["Intake: Arriving by", "Intake: Dietary needs"]
    by_email = {r[header.index("Email")]: dict(zip(header, r, strict=True)) for r in rows}
    assert by_email["calm.complete@example.org"]["Intake: Dietary needs"] == "vegan"
    assert by_email["bo.bookedonly@example.org"]["Intake: Arriving by"] == "train"
    assert by_email["pat.paidonly@example.org"]["Intake: Dietary needs"] == ""


def test_both_sides_facts_and_status_are_in_each_row(ops_client, world):
    header, *rows = ui_csv(ops_client, world.event)
    by_email = {r[header.index("Email")]: dict(zip(header, r, strict=True)) for r in rows}
    calm = by_email["calm.complete@example.org"]
    assert calm["Status"] == "Complete" and calm["Paid"] == "120.00" and calm["Booked"] == "yes"
    assert calm["Stripe payment intents"].startswith("pi_ops_") and calm["Acuity appointment ids"]
    carl = by_email["carl.cancel@example.org"]
    assert carl["Booking cancelled"] == "yes" and carl["Status"] == "Needs review"
    gina = by_email["gina.group@example.org"]
    assert gina["Paid"] == "360.00"


def test_the_export_follows_the_tables_status_filter_but_keeps_the_columns(ops_client, world):
    full = ui_csv(ops_client, world.event)
    filtered = ui_csv(ops_client, world.event, "status=booked_only")
    assert filtered[0] == full[0]
    assert {r[full[0].index("Status")] for r in filtered[1:]} == {"Booked, not paid"}


def test_the_command_exports_json_and_every_event(world):
    out = io.StringIO()
    call_command("export_registrations", "--format", "json", stdout=out)
    data = json.loads(out.getvalue())
    assert {d["Email"] for d in data} >= {"calm.complete@example.org", "fran.friend@example.org"}
    assert set(data[0]) == set(export_columns(None))


def test_the_command_names_an_unknown_event(world):
    with pytest.raises(CommandError, match="No event with slug 'nope'. Known slugs: spring-retreat"):
        call_command("export_registrations", "--event", "nope", stdout=io.StringIO())


def test_spreadsheet_formulas_typed_by_attendees_are_neutralised(ops_client, event):
    pay("mallory@example.org", '=HYPERLINK("http://evil.example","click")')
    book("mallory@example.org", "Mallory", intake={"Notes": "@SUM(A1:A9)"}, event=event)
    header, row = ui_csv(ops_client, event)
    record = dict(zip(header, row, strict=True))
    assert record["Name"].startswith("'=HYPERLINK")
    assert record["Intake: Notes"] == "'@SUM(A1:A9)"
    assert cell_safe("+14155550101") == "+14155550101"  # phone numbers stay as they are
    assert cell_safe("-12.50") == "-12.50"


def test_an_event_without_registrations_exports_just_the_header(ops_client, event):
    assert ui_csv(ops_client, event) == [BASE_COLUMNS]
    assert command_csv("--event", event.slug) == [BASE_COLUMNS]


def test_an_unknown_format_is_not_found(ops_client, event):
    assert ops_client.get(reverse("ops:export", args=[event.slug, "pdf"])).status_code == 404


def test_a_filtered_table_offers_to_export_just_those_rows(ops_client, world, htmx_headers):
    url = reverse("ops:event", args=[world.event.slug]) + "?status=booked_only"
    body = ops_client.get(url, headers=htmx_headers("http://testserver/ops/", "registrations")).content.decode()
    assert f'href="/ops/events/{world.event.slug}/export.csv?status=booked_only"' in body
    unfiltered = ops_client.get(reverse("ops:event", args=[world.event.slug])).content.decode()
    assert "export these" not in unfiltered
