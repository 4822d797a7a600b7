"""Every model has a working admin page: list with search and filters, and a detail page."""

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

pytestmark = pytest.mark.django_db

OUR_APPS = {"registrations", "integrations", "notifications"}


@pytest.fixture
def demo(db):
    from io import StringIO

    call_command("seed_demo", stdout=StringIO())


def our_models():
    return [m for m in admin.site._registry if m._meta.app_label in OUR_APPS]


def test_every_domain_model_is_registered():
    from django.apps import apps

    registered = set(our_models())
    missing = [m.__name__ for app in OUR_APPS for m in apps.get_app_config(app).get_models() if m not in registered]
    assert missing == []


@pytest.mark.parametrize("model", our_models(), ids=lambda m: m.__name__)
def test_changelist_search_and_detail_pages_load(admin_client, demo, model):
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    assert admin_client.get(url).status_code == 200
    assert admin_client.get(url, {"q": "river"}).status_code == 200
    obj = model.objects.first()
    if obj is not None:
        change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        assert admin_client.get(change).status_code == 200


def test_the_event_form_says_sms_not_sms_in_lower_case(admin_client):
    from tests.factories import EventFactory

    event = EventFactory()
    page = admin_client.get(reverse("admin:registrations_event_change", args=[event.pk])).content.decode()
    assert "SMS enabled" in page and "Sms enabled" not in page


def test_a_registration_cannot_be_deleted_in_the_admin_so_its_payments_never_hang_loose(admin_client):
    from registrations.models import Registration
    from registrations.services import apply_payment
    from tests.domain.builders import PLINK, paid
    from tests.factories import EventFactory

    event = EventFactory()
    from registrations.models import EventMapping

    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PAYMENT_LINK, value=PLINK, event=event)
    reg = apply_payment(paid(1)).registration
    assert admin_client.get(reverse("admin:registrations_registration_delete", args=[reg.pk])).status_code == 403
    response = admin_client.post(reverse("admin:registrations_registration_delete", args=[reg.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert Registration.objects.filter(pk=reg.pk).exists() and reg.payments.count() == 1
    changelist = admin_client.get(reverse("admin:registrations_registration_changelist")).content.decode()
    assert "delete_selected" not in changelist
