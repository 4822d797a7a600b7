"""/healthz for machines and /ops/status/ for operators."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Success, Task
from django_q.tasks import _sync, async_task

from integrations.models import WebhookEvent
from jlf import health
from jlf.schedules import HEARTBEAT_NAME

pytestmark = pytest.mark.django_db

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_queued():
    """Run every queued task the way a worker does (django-q2's worker and monitor, in-process).

    The worker closes "old" connections first, which would close a test's open transaction:
    tests that call this use ``django_db(transaction=True)``."""
    for row in OrmQ.objects.order_by("id"):
        payload = row.payload
        row.delete()
        _sync(payload)


def failing_task():
    raise RuntimeError("provider said no")


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_user("status-staff", password="unused-Pw-123", is_staff=True)
    client.force_login(user)
    return client


def checks_by_label(response):
    return {c.label: c for c in response.context["checks"]}


# --- /healthz ------------------------------------------------------------------------------


def test_healthz_says_ok_without_signing_in(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"
    assert response["Content-Type"].startswith("text/plain")
    assert "no-cache" in response["Cache-Control"]


def test_healthz_answers_probes_from_hosts_outside_allowed_hosts_and_over_plain_http(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["jlf.example.org"]
    for host in ("healthcheck.railway.app", "127.0.0.1:8000"):
        response = client.get("/healthz", HTTP_HOST=host)
        assert (response.status_code, response.content) == (200, b"ok")
    # Everything else still gets the host check and the HTTPS redirect.
    assert client.get("/admin/", HTTP_HOST="healthcheck.railway.app").status_code == 400
    assert client.get("/admin/", HTTP_HOST="jlf.example.org").status_code == 301


def test_healthz_answers_head_and_a_trailing_slash(client):
    assert client.head("/healthz").status_code == 200
    assert client.get("/healthz/").content == b"ok"


def test_healthz_says_fail_with_503_when_the_database_is_unreachable():
    # A real unreachable database (nothing listens on port 9), in a fresh process.
    code = (
        "import django; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/healthz');"
        "print(r.status_code, r.content.decode())"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "jlf.settings",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:9/none",
        "LOG_LEVEL": "CRITICAL",
    }
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "503 fail", out.stderr[-2000:]


# --- /ops/status/ --------------------------------------------------------------------------


def test_status_page_is_for_staff_only(client):
    response = client.get("/ops/status/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    member = get_user_model().objects.create_user("not-staff", password="unused-Pw-123")
    client.force_login(member)
    assert client.get("/ops/status/").status_code == 302


def test_operators_reach_the_status_page_from_every_ops_page(staff_client):
    page = staff_client.get("/ops/").content.decode()
    assert '<a href="/ops/status/">Status</a>' in page


def test_status_page_on_a_fresh_install_says_what_to_run(staff_client):
    response = staff_client.get("/ops/status/")
    assert response.status_code == 200
    checks = checks_by_label(response)
    assert checks["Database"].state == "ok"
    assert checks["Migrations"].state == "ok"
    assert checks["Worker"].state == "unknown" and "setup_schedules" in checks["Worker"].detail
    assert checks["Queue"].detail == "empty"
    assert checks["Failed tasks (24 h)"].detail == "none"
    assert checks["Last webhook"].rows == ["Stripe: never", "Acuity: never", "Twilio: never", "Resend: never"]
    assert checks["Schedules"].state == "fail"
    assert f"{HEARTBEAT_NAME}: MISSING" in checks["Schedules"].rows
    assert response.context["overall"] == "fail"
    assert b"System status" in response.content


@pytest.mark.django_db(transaction=True)
def test_status_page_shows_a_healthy_worker_after_a_heartbeat_ran(staff_client):
    from django.core.management import call_command

    call_command("setup_schedules", stdout=open(os.devnull, "w"))
    async_task("jlf.health.heartbeat")
    run_queued()

    checks = checks_by_label(staff_client.get("/ops/status/"))
    assert checks["Worker"].state == "ok"
    assert checks["Worker"].detail.startswith("alive: last heartbeat")
    assert checks["Schedules"].state == "ok"


def test_a_stale_heartbeat_and_an_overdue_scheduler_mean_the_worker_is_down(staff_client):
    long_ago = timezone.now() - timedelta(minutes=42)
    Schedule.objects.create(
        name=HEARTBEAT_NAME, func="jlf.health.heartbeat", schedule_type="I", minutes=1, next_run=long_ago
    )
    Task.objects.create(
        id="hb1", name="hb1", func="jlf.health.heartbeat", started=long_ago, stopped=long_ago, success=True
    )

    worker = checks_by_label(staff_client.get("/ops/status/"))["Worker"]
    assert worker.state == "fail"
    assert "no heartbeat for 42 min" in worker.detail
    assert "scheduler is behind" in worker.detail
    assert "qcluster" in worker.detail


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_keeps_only_its_latest_result(settings):
    for _ in range(4):
        async_task("jlf.health.heartbeat")
        run_queued()
    assert Success.objects.filter(func="jlf.health.heartbeat").count() == 2


def test_status_page_shows_queue_depth_and_the_age_of_the_oldest_task(staff_client):
    async_task("tests.test_health.failing_task")
    async_task("tests.test_health.failing_task")
    OrmQ.objects.update(lock=timezone.now() - timedelta(minutes=30))
    queue = checks_by_label(staff_client.get("/ops/status/"))["Queue"]
    assert queue.detail.startswith("2 waiting; oldest queued ")
    # The age comes from the task's enqueue time (signed into the payload), not the lock.
    assert queue.state == "ok"


@pytest.mark.django_db(transaction=True)
def test_status_page_counts_failed_tasks_of_the_last_day(staff_client):
    async_task("tests.test_health.failing_task")
    run_queued()
    check = checks_by_label(staff_client.get("/ops/status/"))["Failed tasks (24 h)"]
    assert check.state == "warn"
    assert check.detail.startswith("1 failed")
    assert check.rows[0].startswith("tests.test_health.failing_task")


def test_status_page_shows_the_last_webhook_per_provider(staff_client):
    now = timezone.now()
    WebhookEvent.objects.create(provider="stripe", event_id="evt_1", body="{}", received_at=now - timedelta(minutes=3))
    WebhookEvent.objects.create(provider="stripe", event_id="evt_2", body="{}", received_at=now - timedelta(hours=5))
    WebhookEvent.objects.create(provider="acuity", event_id="a1", body="", received_at=now - timedelta(days=3))
    rows = checks_by_label(staff_client.get("/ops/status/"))["Last webhook"].rows
    assert rows == ["Stripe: 3 min ago", "Acuity: 3 days ago", "Twilio: never", "Resend: never"]


def test_status_page_names_migrations_that_are_not_applied(staff_client):
    with connection.cursor() as cursor:
        # sessions.0001_initial is that app's latest (leaf) migration.
        cursor.execute("DELETE FROM django_migrations WHERE app = 'sessions' AND name = '0001_initial'")
    check = checks_by_label(staff_client.get("/ops/status/"))["Migrations"]
    assert check.state == "fail"
    assert "sessions.0001_initial" in check.detail and "migrate" in check.detail


def test_status_page_says_unknown_for_webhooks_when_the_inbox_app_is_missing(monkeypatch):
    import importlib

    real = importlib.import_module

    def without_inbox(name, *args, **kwargs):
        if name == "integrations.models":
            raise ImportError("not installed")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(health.importlib, "import_module", without_inbox)
    check = health.check_webhooks(timezone.now())
    assert check.state == "unknown" and check.detail.startswith("unknown")
