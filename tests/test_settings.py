"""Configuration contract: zero-setup development, explicit production."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def settings_in(env: dict) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            (
                "JLF_",
                "DATABASE_URL",
                "STRIPE_",
                "ACUITY_",
                "RESEND_",
                "SECRET_KEY",
                "ALLOWED_HOSTS",
                "EMAIL_BACKEND",
                "PUBLIC_BASE_URL",
            )
        )
    }
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.EMAIL_BACKEND, s.DEBUG, "
        "s.DATABASES['default'].get('OPTIONS', {}).get('init_command', ''))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, **env, "DJANGO_SETTINGS_MODULE": "jlf.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_with_no_environment_it_runs_on_sqlite_wal_with_console_email():
    out = settings_in({})
    assert out.returncode == 0, out.stderr
    assert "django.db.backends.sqlite3" in out.stdout
    assert "console.EmailBackend" in out.stdout
    assert "journal_mode=WAL" in out.stdout


def test_database_url_switches_to_postgresql():
    out = settings_in({"DATABASE_URL": "postgres://u:p@db.example:5432/jlf"})
    assert out.returncode == 0, out.stderr
    assert "django.db.backends.postgresql" in out.stdout


def test_production_refuses_to_start_and_names_every_missing_secret_in_one_message():
    out = settings_in({"JLF_ENV": "production", "STRIPE_SECRET_KEY": "sk_live_x"})
    assert out.returncode != 0
    message = [line for line in out.stderr.splitlines() if "missing" in line][-1]
    keys = (
        "SECRET_KEY",
        "DATABASE_URL",
        "ALLOWED_HOSTS",
        "STRIPE_WEBHOOK_SECRETS",
        "RESEND_API_KEY",
        "PUBLIC_BASE_URL",
    )
    for key in keys:
        assert key in message


def test_production_refuses_links_that_are_not_https():
    """Sign-in links and unsubscribe links go out in emails: over http, or to 127.0.0.1, they
    leak or lead nowhere."""
    ready = {
        "JLF_ENV": "production",
        "SECRET_KEY": "x" * 50,
        "DATABASE_URL": "postgres://u:p@h/db",
        "ALLOWED_HOSTS": "jlf.example.org",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    }
    for url in (None, "http://jlf.example.org"):
        out = settings_in({**ready, **({"PUBLIC_BASE_URL": url} if url else {})})
        assert out.returncode != 0 and "PUBLIC_BASE_URL (the site's https:// address" in out.stderr
    assert settings_in({**ready, "PUBLIC_BASE_URL": "https://jlf.example.org"}).returncode == 0


def test_production_refuses_to_start_when_mail_would_only_be_logged():
    """No Resend key and no mail backend: every reminder and sign-in link would go to the log."""
    ready = {
        "JLF_ENV": "production",
        "SECRET_KEY": "x" * 50,
        "DATABASE_URL": "postgres://u:p@h/db",
        "PUBLIC_BASE_URL": "https://jlf.example.org",
    }
    out = settings_in({**ready, "ALLOWED_HOSTS": "jlf.example.org"})
    assert out.returncode != 0
    assert "RESEND_API_KEY (or EMAIL_BACKEND" in out.stderr
    smtp = {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "ALLOWED_HOSTS": "jlf.example.org"}
    assert settings_in({**ready, **smtp}).returncode == 0


def test_production_starts_when_everything_is_set():
    out = settings_in(
        {
            "JLF_ENV": "production",
            "SECRET_KEY": "x" * 50,
            "DATABASE_URL": "postgres://u:p@h/db",
            "ALLOWED_HOSTS": "jlf.example.org",
            "RESEND_API_KEY": "re_x",
            "RESEND_WEBHOOK_SECRET": "whsec_x",
            "PUBLIC_BASE_URL": "https://jlf.example.org",
        }
    )
    assert out.returncode == 0, out.stderr
    assert "False" in out.stdout.split()  # DEBUG off


def test_an_empty_database_url_means_sqlite():
    out = settings_in({"DATABASE_URL": ""})
    assert out.returncode == 0, out.stderr
    assert "django.db.backends.sqlite3" in out.stdout


def test_a_per_hour_rate_limit_of_zero_refuses_to_start_and_says_what_to_set():
    """0 (or less) look-ups an hour cannot be a bucket's size (it crashed /r/booked/ with a 500);
    neither "no limit" (walking appointment ids would collect addresses) nor "refuse everyone"
    (co-hosts could never sign in) can be assumed, so the site refuses to start and says why."""
    for key in ("HANDOFF_BOOKED_PER_IP_PER_HOUR", "COHOST_LOGIN_PER_IP_PER_HOUR", "COHOST_LOGIN_PER_EMAIL_PER_HOUR"):
        for value in ("0", "-5"):
            out = settings_in({key: value})
            assert out.returncode != 0, (key, value)
            message = [line for line in out.stderr.splitlines() if "ImproperlyConfigured" in line][-1]
            assert f"{key}={value}" in message and "at least 1" in message
    assert settings_in({"HANDOFF_BOOKED_PER_IP_PER_HOUR": "1"}).returncode == 0
