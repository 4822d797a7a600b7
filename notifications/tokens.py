"""Signed tokens in attendee links (django.core.signing, one salt per purpose).

* Unsubscribe tokens never expire: an unsubscribe link in a months-old email must still work
  (and RFC 8058 one-click requests come from the mail provider at any time).
* Status-page tokens expire (``STATUS_LINK_MAX_AGE_DAYS``, 30 by default): the page shows what
  someone has paid and booked, so a forwarded or leaked link should not work forever.

A forged, altered or expired token returns ``None``; callers show one friendly page for all
three so a probe learns nothing.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

UNSUBSCRIBE_SALT = "notifications.unsubscribe"
STATUS_SALT = "notifications.status"


def status_max_age() -> timedelta:
    return timedelta(days=getattr(settings, "STATUS_LINK_MAX_AGE_DAYS", 30))


def absolute(path: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}{path}"


def unsubscribe_token(attendee_id: int) -> str:
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign_object({"a": attendee_id}, compress=True)


def read_unsubscribe_token(token: str) -> int | None:
    try:
        data = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    value = data.get("a") if isinstance(data, dict) else None
    return value if isinstance(value, int) else None


def status_token(registration_id: int) -> str:
    return signing.TimestampSigner(salt=STATUS_SALT).sign_object({"r": registration_id}, compress=True)


def read_status_token(token: str) -> int | None:
    try:
        data = signing.TimestampSigner(salt=STATUS_SALT).unsign_object(token, max_age=status_max_age())
    except (signing.BadSignature, ValueError, TypeError):  # SignatureExpired is a BadSignature
        return None
    value = data.get("r") if isinstance(data, dict) else None
    return value if isinstance(value, int) else None


def unsubscribe_url(attendee_id: int) -> str:
    return absolute(reverse("notifications:unsubscribe", args=[unsubscribe_token(attendee_id)]))


def status_url(registration_id: int) -> str:
    return absolute(reverse("notifications:status", args=[status_token(registration_id)]))
