"""Every time the admin shows names its time zone. The lists and detail pages (webhook inbox,
payments, bookings, reconciliation runs, audit log, messages) showed "Dec. 3, 2026, 2 p.m." with
no zone, so an operator could not tell whether that was UTC, the server's zone or their own."""

from __future__ import annotations

import html
import re
from datetime import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.urls import reverse

from integrations.models import ReconcileRun, WebhookEvent
from notifications.models import NotificationLog
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture
def demo(db):
    call_command("seed_demo", stdout=StringIO())


def cells(page: str, column: str) -> list[str]:
    """The text of a changelist column's cells."""
    found = re.findall(rf'<t[dh] class="field-{column}[^"]*"[^>]*>(.*?)</t[dh]>', page, re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", "", c)).split()) for c in found]


LISTS = [
    ("integrations", "webhookevent", "received_at"),
    ("integrations", "reconcilerun", "started_at"),
    ("registrations", "payment", "occurred_at"),
    ("registrations", "booking", "starts"),  # in the event's zone (the demo's are in Los Angeles)
    ("registrations", "auditlog", "created_at"),
    ("registrations", "registration", "created_at"),
    ("notifications", "notificationlog", "created_at"),
]


@pytest.mark.parametrize("app,model,column", LISTS, ids=[m for _a, m, _c in LISTS])
def test_an_admin_list_names_the_zone_of_its_times(admin_client, demo, settings, app, model, column):
    settings.TIME_ZONE = "UTC"
    WebhookEvent.objects.create(
        provider="stripe", event_id="evt_zone", event_type="checkout.session.completed", body="{}"
    )
    ReconcileRun.objects.create(started_at=datetime(2026, 12, 3, 14, 0, tzinfo=UTC))
    NotificationLog.objects.create(channel="email", kind="reminder_booking", recipient="river@example.org")
    page = admin_client.get(reverse(f"admin:{app}_{model}_changelist")).content.decode()
    shown = [c for c in cells(page, column) if c and c != "-"]
    assert shown, f"no {column} in the {model} list"
    for text in shown:
        zone = "P[SD]T" if model == "booking" else "UTC"
        assert re.search(rf"\d{{2}}:\d{{2}}(:\d{{2}})? {zone}$", text), text


def test_the_webhook_inbox_detail_page_names_the_zone(admin_client, settings):
    settings.TIME_ZONE = "UTC"
    row = WebhookEvent.objects.create(provider="stripe", event_id="evt_zone", event_type="x", body="{}")
    WebhookEvent.objects.filter(pk=row.pk).update(received_at=datetime(2026, 12, 3, 14, 5, 9, tzinfo=UTC))
    page = admin_client.get(reverse("admin:integrations_webhookevent_change", args=[row.pk])).content.decode()
    received = re.search(r'field-received_at.*?<div class="readonly">(.*?)</div>', page, re.S).group(1)
    assert received.strip() == "3 Dec 2026 14:05:09 UTC"


def test_the_event_list_gives_each_start_in_the_events_own_zone(admin_client):
    EventFactory(starts_at=datetime(2026, 12, 15, 10, 0, tzinfo=LA), timezone="America/Los_Angeles")
    page = admin_client.get(reverse("admin:registrations_event_changelist")).content.decode()
    starts = [c for c in cells(page, "starts") if c]
    assert starts == ["15 Dec 2026 10:00 PST"]


def test_an_audit_entry_and_a_reconcile_run_are_named_with_their_zone(admin_client):
    """Their names (page title, breadcrumbs) carry a time too."""
    from registrations.audit import audit

    row = audit("event.created")
    run = ReconcileRun.objects.create(started_at=datetime(2026, 12, 3, 14, 0, tzinfo=UTC))
    page = admin_client.get(reverse("admin:registrations_auditlog_change", args=[row.pk])).content.decode()
    assert re.search(r"\d{2}:\d{2} UTC event\.created", page)
    page = admin_client.get(reverse("admin:integrations_reconcilerun_change", args=[run.pk])).content.decode()
    assert "2026-12-03 14:00 UTC" in page
