"""A co-host's CSV of a search ("Download CSV" under a search box) had the row an address or phone
number used before a merge found, with nothing saying why: the row gives the person's current
address and number, not the one searched for, while the page says "matched an earlier address:
…". The file's "Found by search" column says it, in the operators' export's words; it is empty
for a row found by its current details and in a CSV with no search; money stays out of the file
of a co-host who may not see money, and is in it, beside the new column, for one who may."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from registrations.models import CoHostGrant

from .test_cohost_search_finds_a_merged_persons_earlier_address_and_phone import (  # noqa: F401 (fixture)
    NEW,
    OLD,
    OLD_PHONE,
    merged,
)

pytestmark = pytest.mark.django_db


def exported(client, event, **query) -> tuple[list[str], list[dict]]:
    response = client.get(reverse("cohost:export", args=[event.slug]), query)
    assert response.status_code == 200
    header, *rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    return header, [dict(zip(header, row, strict=True)) for row in rows]


def test_cohost_csv_of_an_earlier_address_search_says_the_row_matched_that_address(client, merged):  # noqa: F811
    _header, (row,) = exported(client, merged, q=OLD)

    assert row["Email"] == NEW
    assert row["Found by search"] == f"matched an earlier address: {OLD}"


def test_cohost_csv_of_an_earlier_phone_search_says_the_row_matched_that_number(client, merged):  # noqa: F811
    _header, (row,) = exported(client, merged, q="(415) 555-0199")

    assert row["Email"] == NEW
    assert row["Found by search"] == f"matched an earlier phone number: {OLD_PHONE}"


def test_cohost_csv_column_is_empty_for_a_current_match_or_no_search(client, merged):  # noqa: F811
    _header, rows = exported(client, merged, q=NEW)
    assert [r["Found by search"] for r in rows] == [""]
    _header, rows = exported(client, merged)
    assert rows and {r["Found by search"] for r in rows} == {""}


def test_cohost_csv_keeps_money_hidden_or_shown_as_the_grant_says(client, merged, world):  # noqa: F811
    header, (row,) = exported(client, merged, q=OLD)
    assert "Paid" not in header and "Refunded" not in header
    assert "USD" not in ",".join(row.values())

    CoHostGrant.objects.filter(cohost=world.alice.cohost, event=merged).update(can_see_money=True)
    header, (row,) = exported(client, merged, q=OLD)
    assert header.index("Seats") < header.index("Found by search") < header.index("Paid")
    assert row["Paid"].endswith(" USD") and row["Found by search"] == f"matched an earlier address: {OLD}"
