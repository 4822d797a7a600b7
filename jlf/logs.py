"""Structured logging: one JSON object per line, every record tagged with the request id.

Wired in ``settings.LOGGING``:

* ``RequestIdFilter`` adds ``record.request_id`` from ``jlf.context.request_id_var`` (set by
  ``jlf.middleware.RequestIdMiddleware`` in web requests and by the django-q2 ``pre_execute``
  receiver in ``jlf.tasks`` in workers), so every line, Django's own included, can be joined to
  the request or task that caused it.
* ``JsonFormatter`` renders ``time, level, logger, message, request_id`` plus any ``extra=``
  fields. Django attaches the request object to some records (``django.request``,
  ``django.server``); its repr carries the query string, which can hold a sign-in token, so it is
  dropped here.
* The formatter also redacts, as a last line of defence: a configured secret that still reaches
  a formatted line is replaced by ``[redacted:<SETTING>]``. It works on the formatted text (never
  on the shared record), so it is a safety net, not the mechanism: the test suite's log-secret
  guard (``tests/log_secrets.py``) formats every record with ``redact=False`` and fails the run
  if any line contains a secret.
"""

from __future__ import annotations

import logging

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

from .context import request_id_var

# Settings whose values must never appear in a log line. The test suite's guard and the
# formatter's redaction both read this list; add any new secret setting here.
SECRET_SETTINGS = (
    "SECRET_KEY",
    "SECRET_KEY_FALLBACKS",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRETS",
    "ACUITY_API_KEY",
    "TWILIO_AUTH_TOKEN",
    "RESEND_API_KEY",
    "RESEND_WEBHOOK_SECRET",
    "SENTRY_DSN",
)
# Shorter values are too likely to occur by chance to be worth matching (and no real key is).
MIN_SECRET_LENGTH = 8


def configured_secrets() -> list[tuple[str, str]]:
    """``[(setting name, value), …]`` for every non-trivial secret in the current settings."""
    from django.conf import settings

    found = []
    for name in SECRET_SETTINGS:
        value = getattr(settings, name, None)
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if isinstance(item, str) and len(item) >= MIN_SECRET_LENGTH:
                found.append((name, item))
    return found


def find_secrets(text: str, secrets: list[tuple[str, str]] | None = None) -> list[str]:
    """Names of the settings whose secret value occurs in ``text`` (never the values)."""
    if secrets is None:
        secrets = configured_secrets()
    return sorted({name for name, value in secrets if value in text})


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get() or None
        return True


class JsonFormatter(_BaseJsonFormatter):
    """``{"time": …, "level": …, "logger": …, "message": …, "request_id": …, **extra}``."""

    def __init__(self, *args, redact: bool = True, **kwargs):
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s", *args, **kwargs)
        self.redact = redact

    def format(self, record):
        line = super().format(record)
        if self.redact:
            try:
                secrets = configured_secrets()
            except Exception:  # settings not importable (a broken environment): still log
                secrets = []
            for name, value in secrets:
                if value in line:
                    line = line.replace(value, f"[redacted:{name}]")
        return line

    def formatTime(self, record, datefmt=None):  # noqa: N802 (logging API)
        # ISO 8601 in UTC with milliseconds: sortable and unambiguous across machines.
        from datetime import UTC, datetime

        return datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")

    def process_log_record(self, log_data):
        # Django passes the request object as ``extra``; its repr includes the query string.
        log_data.pop("request", None)
        return super().process_log_record(log_data)
