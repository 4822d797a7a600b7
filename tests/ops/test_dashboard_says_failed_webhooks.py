"""A webhook delivery that could not be applied (status "failed": a payment or booking that never
reached its registration) shows on the operator dashboard, with a link to exactly those rows in
the webhook inbox to retry them — not only in the admin or the next morning's digest."""

from __future__ import annotations

import pytest
from django.urls import reverse

from integrations.models import WebhookEvent

pytestmark = pytest.mark.django_db

INBOX_FAILED = "/admin/integrations/webhookevent/?status__exact=failed"


def _hook(n, status):
    return WebhookEvent.objects.create(
        provider="stripe", event_id=f"evt_dash_{n}", event_type="checkout.session.completed", body="{}", status=status
    )


def test_failed_webhook_deliveries_are_counted_and_linked_on_the_dashboard(ops_client, event):
    _hook(1, WebhookEvent.Status.FAILED)
    _hook(2, WebhookEvent.Status.FAILED)
    _hook(3, WebhookEvent.Status.PROCESSED)
    page = ops_client.get(reverse("ops:dashboard")).content.decode()
    assert f'href="{INBOX_FAILED.replace("&", "&amp;")}"' in page
    assert "2 webhook deliveries failed" in page


def test_no_failed_delivery_no_line(ops_client, event):
    _hook(1, WebhookEvent.Status.PROCESSED)
    _hook(2, WebhookEvent.Status.IGNORED)
    page = ops_client.get(reverse("ops:dashboard")).content.decode()
    assert INBOX_FAILED not in page
    assert "webhook deliveries failed" not in page and "webhook delivery failed" not in page
