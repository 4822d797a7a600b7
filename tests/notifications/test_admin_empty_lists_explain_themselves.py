"""An empty Messages or Reminders list in the admin says why it can be empty and what to check
(the worker, on /ops/status/), instead of a bare "0 messages"."""

from __future__ import annotations

import pytest
from django.urls import reverse

from notifications.models import NotificationLog
from notifications.schedules import SCHEDULES

pytestmark = pytest.mark.django_db

SCAN_MINUTES = next(s["minutes"] for s in SCHEDULES if s["name"] == "notifications.reminders")


def _page(admin_client, model, **params):
    response = admin_client.get(reverse(f"admin:notifications_{model}_changelist"), params)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(
    "model, first_words", [("notificationlog", "No messages yet."), ("reminder", "No reminders yet.")]
)
def test_an_empty_list_says_why_and_points_to_the_worker_status(admin_client, model, first_words):
    page = _page(admin_client, model)
    assert first_words in page
    assert f"every {SCAN_MINUTES} minutes" in page
    assert "finished only one step" in page
    assert f'href="{reverse("ops-status")}"' in page


def test_a_list_with_messages_does_not_say_it_is_empty(admin_client):
    NotificationLog.objects.create(channel="email", kind="cohost_link", recipient="ana@example.org", subject="Hi")
    page = _page(admin_client, "notificationlog")
    assert "No messages yet." not in page
    filtered = _page(admin_client, "notificationlog", q="nobody-matches-this")
    assert "No messages yet." not in filtered
    assert "No messages match" in filtered
