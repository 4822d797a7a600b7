"""An export of the event table filtered by a search (the "export these" links) had the rows that
an address or phone number used before a merge found, with nothing saying why: the row shows
the survivor's current address and number, not the one searched for. The file's "Found by
search" column says it, as the table does ("matched an earlier address: …"); it is empty for a
row found by its current details, and in an export with no search."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from registrations.exports import BASE_COLUMNS

from .test_search_finds_a_merged_persons_earlier_address_and_phone import (  # noqa: F401 (fixture)
    NEW,
    OLD,
    OLD_PHONE,
    merged,
)

pytestmark = pytest.mark.django_db


def exported(client, event, **query) -> list[dict]:
    response = client.get(reverse("ops:export", args=[event.slug, "csv"]), query)
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(text)))
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_an_export_of_an_earlier_address_search_says_the_row_matched_that_address(ops_client, merged):  # noqa: F811
    event, keep = merged

    (row,) = exported(ops_client, event, q=OLD)

    assert row["Reference"] == keep.reference and row["Email"] == NEW
    assert row["Found by search"] == f"matched an earlier address: {OLD}"


def test_an_export_of_an_earlier_phone_search_says_the_row_matched_that_number(ops_client, merged):  # noqa: F811
    event, keep = merged

    (row,) = exported(ops_client, event, q="(415) 555-0199")

    assert row["Reference"] == keep.reference
    assert row["Found by search"] == f"matched an earlier phone number: {OLD_PHONE}"


def test_the_xlsx_export_says_it_too(ops_client, merged):  # noqa: F811
    event, _keep = merged
    response = ops_client.get(reverse("ops:export", args=[event.slug, "xlsx"]), {"q": OLD})
    header, *rows = list(load_workbook(io.BytesIO(response.content), read_only=True).active.iter_rows(values_only=True))

    assert dict(zip(header, rows[0], strict=True))["Found by search"] == f"matched an earlier address: {OLD}"


def test_a_row_found_by_its_current_details_or_with_no_search_has_the_column_empty(ops_client, merged):  # noqa: F811
    event, _keep = merged

    assert [r["Found by search"] for r in exported(ops_client, event, q="river")] == [""]
    assert {r["Found by search"] for r in exported(ops_client, event)} == {""}
    assert "Found by search" in BASE_COLUMNS
