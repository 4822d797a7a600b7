"""The admin next to the ops pages: history cannot be edited there, and a mapping typed in the
admin replays the signals that were waiting for it (like mapping it from the queue)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from registrations.models import AuditLog, EventMapping, Registration, ReviewItem, Status

from .scenario import pay

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("ada.admin", "ada@jlf.example", "pw-ada-12345")
    client.force_login(user)
    return client


@pytest.mark.django_db(transaction=True)
def test_a_payment_link_mapped_in_the_event_admin_replays_the_waiting_payment(admin_client, event):
    """Transactional, as in production: the admin's own transaction commits the mapping, then the
    waiting payment is replayed and the operator is told so on the next page."""
    pay("una@example.org", "Una", plink="plink_new_link")
    assert ReviewItem.objects.filter(kind="unmatched_event", state="open").exists()
    url = reverse("admin:registrations_event_change", args=[event.pk])
    page = admin_client.get(url)
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, (list, dict))}
    data.update(
        {
            "starts_at_0": event.starts_at.strftime("%Y-%m-%d"),
            "starts_at_1": event.starts_at.strftime("%H:%M:%S"),
            "ends_at_0": "",
            "ends_at_1": "",
            "mappings-TOTAL_FORMS": "3",
            "mappings-INITIAL_FORMS": "2",
            "mappings-MIN_NUM_FORMS": "0",
            "mappings-MAX_NUM_FORMS": "1000",
        }
    )
    for n, m in enumerate(EventMapping.objects.filter(event=event).order_by("pk")):
        data.update({f"mappings-{n}-id": m.pk, f"mappings-{n}-event": event.pk, f"mappings-{n}-kind": m.kind})
        data[f"mappings-{n}-value"] = m.value
    data.update(
        {"mappings-2-kind": "stripe_payment_link", "mappings-2-value": "plink_new_link", "mappings-2-event": ""}
    )
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    reg = Registration.objects.get(attendee__email="una@example.org")
    assert reg.event == event and reg.status == Status.PAID_ONLY
    assert ReviewItem.objects.get(kind="unmatched_event").resolution == "mapped"
    assert AuditLog.objects.filter(action="mapping.added", actor_type="operator").exists()
    page = admin_client.get(response.url).content.decode()
    assert "Stripe Payment Link id plink_new_link: 1 stored signal replayed." in page


def test_history_is_read_only_in_the_admin(admin_client, world):
    reg = Registration.objects.filter(event=world.event).first()
    page = admin_client.get(reverse("admin:registrations_registration_change", args=[reg.pk])).content.decode()
    assert 'name="attendee"' not in page and 'name="event"' not in page and 'name="manual_paid_reason"' not in page
    assert admin_client.get(reverse("admin:registrations_registration_add")).status_code == 403
    item = world.items["dispute"]
    assert admin_client.get(reverse("admin:registrations_reviewitem_delete", args=[item.pk])).status_code == 403
    entry = AuditLog.objects.first()
    assert admin_client.post(reverse("admin:registrations_auditlog_delete", args=[entry.pk])).status_code == 403
    change = admin_client.get(reverse("admin:registrations_auditlog_change", args=[entry.pk])).content.decode()
    assert 'type="submit" value="Save"' not in change
