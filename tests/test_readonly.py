"""READ_ONLY_MODE: people can look but not change; webhooks are still accepted and stored."""

import pytest
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.template import RequestContext, Template
from django.test import RequestFactory
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from jlf.readonly import processing_paused, read_only_mode
from registrations.audit import audit
from registrations.models import AuditLog

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.test_readonly")]

MESSAGE = "Read-only maintenance mode: changes are paused, nothing is lost"


@csrf_exempt
def stored_webhook(request):
    """Stands in for a provider webhook view: it stores what arrived."""
    audit("test.webhook.stored", message=request.body.decode())
    return HttpResponse("stored", status=202)


@csrf_exempt
def change_something(request):
    audit("test.changed", message=request.method)
    return HttpResponse("changed")


urlpatterns = [
    path("webhooks/test/", stored_webhook),
    path("_t/change/", change_something),
    path("", include("jlf.urls")),
]


@pytest.fixture
def read_only(settings):
    settings.READ_ONLY_MODE = True


@pytest.fixture
def operator(client):
    user = get_user_model().objects.create_user("ro-op", password="Right-Password-42", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_every_change_gets_the_maintenance_page_and_nothing_is_written(client, read_only, method):
    response = getattr(client, method)("/_t/change/")
    assert response.status_code == 503
    assert MESSAGE in response.content.decode()
    assert response["Retry-After"] == "300"
    assert not AuditLog.objects.filter(action="test.changed").exists()


def test_admin_changes_are_refused_too(client, read_only, operator):
    response = client.post("/admin/auth/user/add/", {"username": "newbie", "password1": "x", "password2": "x"})
    assert response.status_code == 503
    assert MESSAGE in response.content.decode()
    assert not get_user_model().objects.filter(username="newbie").exists()


def test_pages_can_still_be_read(client, read_only, operator):
    assert client.get("/admin/").status_code == 200
    assert client.get("/ops/status/").status_code == 200
    assert client.get("/healthz").content == b"ok"


def test_the_status_page_shows_the_maintenance_banner(client, read_only, operator):
    assert b"Read-only maintenance mode" in client.get("/ops/status/").content


def test_webhooks_are_still_accepted_and_stored(client, read_only):
    response = client.post("/webhooks/test/", data='{"id": "evt_1"}', content_type="application/json")
    assert response.status_code == 202
    assert AuditLog.objects.get(action="test.webhook.stored").message == '{"id": "evt_1"}'


def test_the_real_webhook_endpoints_are_not_refused(client, read_only):
    # Whatever the intake answers (400 for this unsigned body, or 404 before it exists), it is
    # never the maintenance page.
    for url in ("/webhooks/stripe/", "/webhooks/acuity/"):
        assert client.post(url, data="{}", content_type="application/json").status_code != 503


def test_the_maintenance_page_links_back_to_our_own_page_only(client, read_only):
    back = client.post("/_t/change/", HTTP_REFERER="http://testserver/admin/registrations/event/")
    assert 'href="http://testserver/admin/registrations/event/"' in back.content.decode()
    elsewhere = client.post("/_t/change/", HTTP_REFERER="https://evil.example/phish")
    assert 'href="/"' in elsewhere.content.decode()


def test_with_the_mode_off_changes_go_through(client, settings):
    settings.READ_ONLY_MODE = False
    assert client.post("/_t/change/").status_code == 200
    assert AuditLog.objects.filter(action="test.changed").exists()
    assert processing_paused() is False


def test_processing_is_paused_while_the_mode_is_on(read_only):
    assert processing_paused() is True


def test_templates_can_show_a_banner(settings):
    template = Template("{% if read_only_mode %}BANNER: {{ read_only_message }}{% endif %}")
    request = RequestFactory().get("/")
    settings.READ_ONLY_MODE = True
    assert template.render(RequestContext(request, {})) == f"BANNER: {MESSAGE}."
    settings.READ_ONLY_MODE = False
    assert template.render(RequestContext(request, {})) == ""
    assert read_only_mode(request)["read_only_mode"] is False
