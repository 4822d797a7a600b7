"""Production security settings, the Content Security Policy, admin login lockout, Sentry."""

import gzip
import json
import os
import secrets
import subprocess
import sys
import threading
import uuid
import zlib
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.utils import timezone

from jlf.sentry import sentry_before_send

pytestmark = pytest.mark.django_db

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "Right-Password-42"


def production_env(tmp_path, **extra):
    # DJANGO_ALLOW_ASYNC_UNSAFE is set by the browser tests in this process; production never has it.
    dropped = ("JLF_TESTING", "DEBUG", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        JLF_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        ALLOWED_HOSTS="jlf.example.org",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        PUBLIC_BASE_URL="https://jlf.example.org",
        DJANGO_SETTINGS_MODULE="jlf.settings",
        LOG_LEVEL="ERROR",
        **extra,
    )
    return env


def run_python(code, env):
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


# --- production settings -------------------------------------------------------------------


def test_check_deploy_passes_with_no_warnings_in_production(tmp_path):
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "System check identified no issues (0 silenced)." in out.stdout


def test_production_refuses_to_start_without_its_secrets(tmp_path):
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    out = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode != 0
    assert "SECRET_KEY" in out.stderr


def test_production_redirects_to_https_and_sends_hsts_secure_cookies_csp_and_frame_denial(tmp_path):
    code = """
import django, json; django.setup()
from django.conf import settings
from django.test import Client
# The admin page needs static URLs; production's manifest storage needs a collectstatic this
# test does not run. Only the asset URLs change, not the security behaviour under test.
settings.STORAGES = {**settings.STORAGES, "staticfiles": {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
c = Client()
plain = c.get("/admin/login/", HTTP_HOST="jlf.example.org")
proxied = c.get("/admin/login/", HTTP_HOST="jlf.example.org", HTTP_X_FORWARDED_PROTO="https")
cookie = proxied.cookies["csrftoken"]
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location")],
    "status": proxied.status_code,
    "hsts": proxied.get("Strict-Transport-Security"),
    "csp": proxied.get("Content-Security-Policy"),
    "xfo": proxied.get("X-Frame-Options"),
    "nosniff": proxied.get("X-Content-Type-Options"),
    "cookie_secure": bool(cookie["secure"]), "cookie_httponly": bool(cookie["httponly"]),
}))
"""
    result = json.loads(run_python(code, production_env(tmp_path)))
    assert result["plain"] == [301, "https://jlf.example.org/admin/login/"]
    assert result["status"] == 200
    assert result["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert "frame-ancestors 'none'" in result["csp"]
    assert result["xfo"] == "DENY" and result["nosniff"] == "nosniff"
    assert result["cookie_secure"] and result["cookie_httponly"]


def test_production_session_cookie_is_secure_and_httponly(tmp_path):
    code = """
import django, json; django.setup()
from django.conf import settings
print(json.dumps([settings.SESSION_COOKIE_SECURE, settings.SESSION_COOKIE_HTTPONLY,
                  settings.CSRF_COOKIE_SECURE, settings.SECURE_PROXY_SSL_HEADER]))
"""
    assert json.loads(run_python(code, production_env(tmp_path))) == [
        True,
        True,
        True,
        ["HTTP_X_FORWARDED_PROTO", "https"],
    ]


def test_every_page_carries_the_content_security_policy(client):
    csp = client.get("/admin/login/")["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["img-src"] == "'self' data:"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"


# --- admin login lockout -------------------------------------------------------------------


@pytest.fixture
def operator():
    name = f"op-{uuid.uuid4().hex[:8]}"
    return get_user_model().objects.create_user(name, password=PASSWORD, is_staff=True, is_superuser=True)


def attempt(client, username, password, ip="203.0.113.7", **extra):
    return client.post(
        "/admin/login/?next=/admin/", {"username": username, "password": password}, REMOTE_ADDR=ip, **extra
    )


def test_five_wrong_passwords_lock_that_login_with_a_clear_429_page(client, operator):
    for _ in range(4):
        assert attempt(client, operator.username, "wrong-guess").status_code == 200  # the form again
    assert attempt(client, operator.username, "wrong-guess").status_code == 429  # the 5th locks
    locked = attempt(client, operator.username, PASSWORD)  # even the right password now
    assert locked.status_code == 429
    assert locked["Retry-After"] == "900"
    page = locked.content.decode()
    assert "Too many sign-in attempts" in page and "15 minutes" in page
    assert "_auth_user_id" not in client.session


def test_a_lockout_is_per_username_and_address_so_others_can_still_sign_in(client, operator):
    colleague = get_user_model().objects.create_user(f"op-{uuid.uuid4().hex[:8]}", password=PASSWORD, is_staff=True)
    for _ in range(6):
        attempt(client, operator.username, "wrong-guess")
    assert attempt(client, colleague.username, PASSWORD).status_code == 302  # same address, other user
    client.logout()
    assert attempt(client, operator.username, PASSWORD, ip="198.51.100.9").status_code == 302  # other address


def test_after_the_cool_off_the_right_password_works_again(client, operator):
    for _ in range(5):
        attempt(client, operator.username, "wrong-guess")
    assert attempt(client, operator.username, PASSWORD).status_code == 429
    # 16 minutes pass (the last attempt included).
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    response = attempt(client, operator.username, PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_trying_again_during_the_cool_off_restarts_it(client, operator):
    for _ in range(5):
        attempt(client, operator.username, "wrong-guess")
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=10))
    assert attempt(client, operator.username, PASSWORD).status_code == 429  # 10 min in: still locked
    AccessAttempt.objects.filter(attempt_time__lt=timezone.now() - timedelta(minutes=5)).update(
        attempt_time=timezone.now() - timedelta(minutes=14)
    )
    assert attempt(client, operator.username, PASSWORD).status_code == 429  # the retry restarted the clock


def test_a_successful_login_forgives_earlier_mistakes(client, operator):
    for _ in range(4):
        attempt(client, operator.username, "wrong-guess")
    assert attempt(client, operator.username, PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        attempt(client, operator.username, "wrong-guess")
    assert attempt(client, operator.username, PASSWORD).status_code == 302


def test_behind_a_proxy_the_lockout_follows_the_forwarded_client_address(client, operator, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"
    for _ in range(5):
        # A client cannot escape by sending its own X-Forwarded-For: the proxy appends the real one.
        attempt(client, operator.username, "wrong", ip=proxy, HTTP_X_FORWARDED_FOR=f"6.6.6.{_}, 192.0.2.10")
    assert attempt(client, operator.username, PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR="192.0.2.10").status_code == 429
    ok = attempt(client, operator.username, PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert ok.status_code == 302


def test_test_client_and_shell_logins_without_a_request_still_work(client, operator):
    assert client.login(username=operator.username, password=PASSWORD)


# --- Sentry --------------------------------------------------------------------------------


class _Collector(BaseHTTPRequestHandler):
    bodies: list = []

    def do_POST(self):  # noqa: N802 (http.server API)
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            raw = gzip.decompress(raw)
        elif encoding == "deflate":
            raw = zlib.decompress(raw)
        elif encoding == "br":
            import brotli

            raw = brotli.decompress(raw)
        type(self).bodies.append(raw.decode("utf-8", "replace"))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def test_sentry_reports_errors_without_secrets_bodies_signatures_or_personal_data(tmp_path):
    _Collector.bodies = []
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    code = """
import django; django.setup()
import sentry_sdk
from django.conf import settings
from django.test import Client
from django.urls import path
import jlf.urls

def boom(request):
    api_key = settings.ACUITY_API_KEY  # a secret in the frame's local variables
    raise RuntimeError("provider call failed with key " + api_key)

jlf.urls.urlpatterns.append(path("boom/", boom))
from django.urls import clear_url_caches; clear_url_caches()
opts = sentry_sdk.get_client().options
assert opts["send_default_pii"] is False, opts["send_default_pii"]
Client(raise_request_exception=False).post(
    "/boom/?t=magic-token-123", data='{"email": "river@example.org", "card": "4242424242424242"}',
    content_type="application/json", HTTP_HOST="jlf.example.org", HTTP_X_FORWARDED_PROTO="https",
    HTTP_STRIPE_SIGNATURE="t=1,v1=feedfacecafe")
sentry_sdk.flush(5)
"""
    env = production_env(
        tmp_path,
        SENTRY_DSN=f"http://publickey@127.0.0.1:{server.server_port}/1",
        ACUITY_API_KEY="acuity-secret-for-sentry-0001",
        ACUITY_USER_ID="12345",
    )
    try:
        run_python(code, env)
    finally:
        server.shutdown()
    sent = "\n".join(_Collector.bodies)
    assert "RuntimeError" in sent  # the error was reported…
    for forbidden in (
        "acuity-secret-for-sentry-0001",
        "river@example.org",
        "4242424242424242",
        "feedfacecafe",
        "magic-token-123",
    ):
        assert forbidden not in sent, forbidden  # …without any of these
    assert "[Filtered:ACUITY_API_KEY]" in sent


def test_sentry_scrubber_drops_bodies_signature_headers_and_secret_values(settings):
    settings.TWILIO_AUTH_TOKEN = "twilio-secret-token-0002"
    event = {
        "request": {
            "url": "https://jlf.example.org/webhooks/twilio/status/",
            "data": {"To": "+15551234567"},
            "query_string": "t=abc",
            "cookies": {"sessionid": "x"},
            "headers": {"X-Twilio-Signature": "sig", "User-Agent": "TwilioProxy/1.1"},
        },
        "extra": {"note": ["token was twilio-secret-token-0002"]},
    }
    scrubbed = sentry_before_send(event, {})
    assert "data" not in scrubbed["request"] and "cookies" not in scrubbed["request"]
    assert scrubbed["request"]["query_string"] == "[Filtered]"
    assert scrubbed["request"]["headers"] == {"User-Agent": "TwilioProxy/1.1"}
    assert scrubbed["extra"]["note"] == ["token was [Filtered:TWILIO_AUTH_TOKEN]"]
