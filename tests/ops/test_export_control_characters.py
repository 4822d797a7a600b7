"""An attendee's answer pasted from a word processor can carry control characters (a vertical tab
is Word's line break): the operator's XLSX export must still download, and neither export shows
the invisible junk."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from .scenario import book, pay

pytestmark = pytest.mark.django_db


def test_an_intake_answer_with_a_vertical_tab_does_not_break_the_xlsx_export(ops_client, event):
    pay("vera@example.org", "Vera\x07 Tab")
    book("vera@example.org", "Vera", intake={"Notes": "line one\x0bline two\x1f"}, event=event)

    response = ops_client.get(reverse("ops:export", args=[event.slug, "xlsx"]))

    assert response.status_code == 200
    header, row = load_workbook(io.BytesIO(response.content), read_only=True).active.iter_rows(values_only=True)
    record = dict(zip(header, row, strict=True))
    assert record["Intake: Notes"] == "line oneline two"
    assert record["Name"] == "Vera Tab"

    text = b"".join(ops_client.get(reverse("ops:export", args=[event.slug, "csv"])).streaming_content)
    header, row = csv.reader(io.StringIO(text.decode("utf-8-sig")))
    assert dict(zip(header, row, strict=True))["Intake: Notes"] == "line oneline two"
