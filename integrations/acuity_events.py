"""Acuity webhooks → ``GET /appointments/{id}`` → booking signal → ``apply_booking``.

The form-encoded body (``action``, ``id``, ``calendarID``, ``appointmentTypeID``) says only that
something happened to an appointment; the API's answer is the truth (cancelled flag, current
time, intake forms), so processing always re-fetches it and repeated deliveries are harmless.

Static webhooks send ``scheduled`` / ``rescheduled`` / ``canceled`` (one "l") / ``changed``;
dynamic ones prefix them with ``appointment.``. Both spellings are accepted (trap 13).
``order.completed`` (packages, gift certificates) and anything else is stored as ignored.
"""

from __future__ import annotations

import threading
from urllib.parse import parse_qs

from django.conf import settings

from registrations.signals import BookingSignal

from .clients import AcuityClient
from .parsing import appointment_to_signal

APPOINTMENT_ACTIONS = {"scheduled", "rescheduled", "canceled", "changed"}
# Not sent by Acuity, but a hand-made test or a proxy might "fix" the spelling.
_ALIASES = {"cancelled": "canceled"}


def normalise_action(action: str) -> str:
    action = (action or "").strip().lower().removeprefix("appointment.")
    return _ALIASES.get(action, action)


def ignore_reason(action: str) -> str:
    if normalise_action(action) in APPOINTMENT_ACTIONS:
        return ""
    return f"action {action or '(none)'} is not about an appointment"


def delivery_key(form: dict) -> str:
    """Acuity sends no event id: the key is what the body says, so an identical redelivery is a
    duplicate (and ``scheduled`` / ``appointment.scheduled`` for one appointment are one)."""
    parts = (
        normalise_action(form.get("action", "")),
        form.get("id", "").strip(),
        form.get("calendarID", "").strip(),
        form.get("appointmentTypeID", "").strip(),
    )
    return "acuity:" + ":".join(p[:40] for p in parts)


_local = threading.local()


def _client() -> AcuityClient:
    """One client per worker thread, kept between tasks (its HTTP session keeps the connection
    open); rebuilt when the settings change. Two tries per attempt, short timeouts: the task's
    own retries (with backoff) handle longer outages."""
    timeout = settings.WEBHOOK_HTTP_TIMEOUT
    key = (settings.ACUITY_API_BASE, settings.ACUITY_USER_ID, settings.ACUITY_API_KEY, timeout)
    if getattr(_local, "key", None) != key:
        _local.client = AcuityClient(timeout=(min(3.0, timeout), timeout), attempts=2)
        _local.key = key
    return _local.client


def signal_for(body: str, event_id: str) -> BookingSignal:
    """Fetch the appointment the stored delivery names. Raises clients.NotFound on a 404."""
    form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
    appointment = _client().get_appointment(form["id"])
    return appointment_to_signal(appointment, action=form.get("action", ""), raw_ref=event_id)
