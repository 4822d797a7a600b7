"""Configuration changed in the admin is in the audit trail: who, and what it was before and after
(the price, the reminder policy, a mapping removed), like the same change made by an events file."""

import pytest
from django.urls import reverse

from registrations.models import AuditLog, EventMapping
from tests.admin_forms import add_event

from .builders import PLINK
from .test_event_settings_rederive import change_event_in_admin

pytestmark = pytest.mark.django_db


def test_changing_an_events_price_and_reminders_in_the_admin_is_audited_with_who_and_before_after(
    admin_client, admin_user, event
):
    response = change_event_in_admin(admin_client, event, price="150.00", reminder_delay_hours="12")
    assert not response.context.get("errors")

    row = AuditLog.objects.get(action="event.updated")
    assert (row.actor_type, row.actor_user, row.event) == ("operator", admin_user, event)
    assert row.before == {"price": "12000", "reminder_delay_hours": "24"}
    assert row.after == {"price": "15000", "reminder_delay_hours": "12"}


def test_saving_an_event_unchanged_in_the_admin_writes_no_audit_row(admin_client, event):
    change_event_in_admin(admin_client, event)
    assert not AuditLog.objects.filter(action__startswith="event.").exists()


def test_removing_a_mapping_in_the_event_admin_is_audited_with_what_it_was(admin_client, admin_user, event):
    mapping = EventMapping.objects.get(value=PLINK)
    index = list(event.mappings.order_by("pk").values_list("pk", flat=True)).index(mapping.pk)

    change_event_in_admin(admin_client, event, **{f"mappings-{index}-DELETE": "on"})

    assert not EventMapping.objects.filter(value=PLINK).exists()
    row = AuditLog.objects.get(action="mapping.removed")
    assert (row.actor_type, row.actor_user, row.event) == ("operator", admin_user, event)
    assert row.before == {"kind": "stripe_payment_link", "value": PLINK, "event": "spring-retreat", "ignored": False}


def test_removing_a_mapping_in_the_mapping_admin_is_audited_with_what_it_was(admin_client, admin_user, event):
    mapping = EventMapping.objects.get(value=PLINK)
    url = reverse("admin:registrations_eventmapping_delete", args=[mapping.pk])

    admin_client.post(url, {"post": "yes"})

    assert not EventMapping.objects.filter(value=PLINK).exists()
    row = AuditLog.objects.get(action="mapping.removed")
    assert (row.actor_type, row.actor_user) == ("operator", admin_user)
    assert row.before["value"] == PLINK


def test_creating_an_event_in_the_admin_is_audited_with_who(admin_client, admin_user, db):
    response = add_event(
        admin_client,
        name="Autumn Gathering",
        slug="autumn-gathering",
        starts_at_0="2027-10-01",
        starts_at_1="10:00:00",
        timezone="America/Los_Angeles",
    )
    assert response.status_code == 302, response.context["adminform"].form.errors

    row = AuditLog.objects.get(action="event.created")
    assert (row.actor_type, row.actor_user, row.event.slug) == ("operator", admin_user, "autumn-gathering")


def test_moving_a_mapping_to_another_event_is_audited_with_the_event_it_came_from(event):
    from registrations.audit import Actor
    from registrations.services import save_mapping
    from tests.factories import EventFactory

    autumn = EventFactory(slug="autumn-gathering")

    save_mapping("stripe_payment_link", PLINK, autumn, Actor.system("test"))

    row = AuditLog.objects.get(action="mapping.changed")
    assert row.before == {"event": "spring-retreat", "ignored": False}
    assert row.after["event"] == "autumn-gathering"
