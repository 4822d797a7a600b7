"""Every way out of an operator page leads somewhere: the admin's "View site" goes to the operator
dashboard (the site root has no page), the status page (reached from the top bar's "Status") links
back to the dashboard, and its schedule lines read as plain times ("due now", "overdue by 42
min"), not "next run 0 s ago"."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_q.models import Schedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("view-site-staff", "vs@example.org", "unused-Pw-123")
    client.force_login(user)
    return client


def test_the_admins_view_site_link_goes_to_the_operator_dashboard(staff_client):
    page = staff_client.get("/admin/").content.decode()
    assert '<a href="/ops/">View site</a>' in page
    assert staff_client.get("/ops/").status_code == 200


def test_the_status_page_links_back_to_the_dashboard(staff_client):
    page = staff_client.get("/ops/status/").content.decode()
    assert '<a href="/ops/">dashboard</a>' in page


def _schedule_rows(client):
    checks = {c.label: c for c in client.get("/ops/status/").context["checks"]}
    return checks["Schedules"].rows


def test_a_schedule_due_this_moment_reads_due_now(staff_client):
    now = timezone.now()
    Schedule.objects.create(
        name="jlf.heartbeat", func="jlf.health.heartbeat", schedule_type="I", minutes=1, next_run=now
    )
    Schedule.objects.create(
        name="notifications.reminders", func="x.y", schedule_type="I", minutes=5, next_run=now - timedelta(minutes=42)
    )
    Schedule.objects.create(
        name="notifications.operator_digest", func="x.z", schedule_type="D", next_run=now + timedelta(minutes=30)
    )
    rows = _schedule_rows(staff_client)
    assert "jlf.heartbeat: due now" in rows
    assert "notifications.reminders: overdue by 42 min" in rows
    assert any(
        r.startswith("notifications.operator_digest: next run in 29 min")
        or r.startswith("notifications.operator_digest: next run in 30 min")
        for r in rows
    ), rows
    assert not any(" ago" in r for r in rows), rows


def test_the_status_page_warns_like_the_dashboard_when_stripe_never_called_during_a_sale(staff_client):
    """The dashboard turned orange ("No Stripe webhook has ever arrived while an event is on
    sale") while the status page said "All checks pass": both now say it."""
    from tests.factories import EventFactory

    EventFactory()  # upcoming
    webhooks = {c.label: c for c in staff_client.get("/ops/status/").context["checks"]}["Last webhook"]
    assert webhooks.state == "warn"
    assert "No Stripe webhook has ever arrived while an event is on sale." in webhooks.detail
    assert "No Acuity webhook has ever arrived while an event is on sale." in webhooks.detail


def test_the_status_page_webhooks_are_ok_with_no_event_on_sale(staff_client):
    webhooks = {c.label: c for c in staff_client.get("/ops/status/").context["checks"]}["Last webhook"]
    assert webhooks.state == "ok"
