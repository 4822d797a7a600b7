"""The operator's view of the webhook inbox: find failed deliveries, read what was sent, retry."""

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ

from integrations.models import ReconcileRun, WebhookEvent

from .conftest import inbox, queued_inbox_ids, run_queue

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:integrations_webhookevent_changelist"


@pytest.fixture
def operator(client):
    user = User.objects.create_superuser("olive", "olive@example.org", "pw")
    client.force_login(user)
    return user


@pytest.fixture
def failed_delivery(post_stripe, fake_stripe, event):
    evt = fake_stripe.session_event(fake_stripe.add_session())
    post_stripe(evt)
    WebhookEvent.objects.filter(event_id=evt["id"]).update(
        status="failed", attempts=6, last_error="stripe: HTTP 500 after 2 attempts"
    )
    OrmQ.objects.all().delete()
    return inbox(evt["id"])


def test_failed_deliveries_are_listed_with_their_error(client, operator, failed_delivery, post_acuity, fake_acuity):
    post_acuity(fake_acuity.add_appointment())

    response = client.get(reverse(CHANGELIST), {"status__exact": "failed"})

    assert response.status_code == 200
    page = response.content.decode()
    assert failed_delivery.event_id in page and "HTTP 500 after 2 attempts" in page
    assert "acuity:scheduled" not in page


def test_the_inbox_can_be_searched_by_provider_event_id(client, operator, failed_delivery):
    response = client.get(reverse(CHANGELIST), {"q": failed_delivery.event_id})
    assert failed_delivery.event_id in response.content.decode()
    assert "0 webhook events" in client.get(reverse(CHANGELIST), {"q": "evt_nope"}).content.decode()


def test_a_delivery_shows_its_raw_body_read_only(client, operator, failed_delivery):
    url = reverse("admin:integrations_webhookevent_change", args=[failed_delivery.pk])

    page = client.get(url).content.decode()

    assert "checkout.session.completed" in page and "customer_details" in page
    assert 'name="body"' not in page  # no editable field
    client.post(url, {"body": "{}"})
    assert inbox(failed_delivery.event_id).body == failed_delivery.body
    assert client.get(reverse("admin:integrations_webhookevent_add")).status_code == 403


def test_retry_processing_queues_failed_deliveries_and_the_worker_processes_them(client, operator, failed_delivery):
    response = client.post(
        reverse(CHANGELIST),
        {"action": "retry_processing", "_selected_action": [failed_delivery.pk]},
        follow=True,
    )

    assert "Queued 1 delivery for processing" in response.content.decode()
    row = inbox(failed_delivery.event_id)
    assert (row.status, row.attempts) == ("received", 0)
    assert queued_inbox_ids() == [row.pk]
    assert run_queue() == ["processed"]


def test_retry_skips_deliveries_that_were_processed(client, operator, failed_delivery):
    WebhookEvent.objects.update(status="processed")
    response = client.post(
        reverse(CHANGELIST), {"action": "retry_processing", "_selected_action": [failed_delivery.pk]}, follow=True
    )
    assert "Skipped 1" in response.content.decode()
    assert queued_inbox_ids() == []


def test_staff_with_view_permission_only_cannot_retry(client, failed_delivery):
    viewer = User.objects.create_user("vic", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_webhookevent"))
    client.force_login(viewer)

    assert client.get(reverse(CHANGELIST)).status_code == 200
    client.post(reverse(CHANGELIST), {"action": "retry_processing", "_selected_action": [failed_delivery.pk]})
    assert inbox(failed_delivery.event_id).status == "failed"


def test_reconcile_runs_are_listed_read_only(client, operator):
    run = ReconcileRun.objects.create(kind="reconcile", status="ok", finished_at=timezone.now())

    assert client.get(reverse("admin:integrations_reconcilerun_changelist")).status_code == 200
    assert client.get(reverse("admin:integrations_reconcilerun_change", args=[run.pk])).status_code == 200
    assert client.get(reverse("admin:integrations_reconcilerun_add")).status_code == 403
