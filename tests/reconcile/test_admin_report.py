"""Each run is visible to operators in the admin, with the same report the command prints."""

import pytest

from .conftest import run_command


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_superuser("olive", "olive@example.org", "pw-olive-123")


def test_an_operator_sees_the_run_and_its_report_in_the_admin(event, providers, client, operator):
    stripe, _ = providers
    stripe.add_session(email="river@example.org")
    run = run_command().run
    client.force_login(operator)

    listing = client.get("/admin/integrations/reconcilerun/")
    detail = client.get(f"/admin/integrations/reconcilerun/{run.pk}/change/")

    assert listing.status_code == 200 and "reconcile" in listing.content.decode()
    body = detail.content.decode()
    assert detail.status_code == 200
    assert f"Reconciliation run #{run.pk}" in body and "spring-retreat" in body
