"""The one place co-host email leaves the system.

It goes through the product's email sender (``settings.PRODUCT_EMAIL_SENDER``, by default
``notifications.email.send_email``: Resend with idempotency keys in production, Django's
``EMAIL_BACKEND`` in development and tests), named by a setting so that ``registrations`` never
imports the notifications app or a provider SDK.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string


class CoHostMailError(Exception):
    """The message could not be sent (a permanent provider failure)."""


def send_cohost_email(to: str, subject: str, text: str, html: str | None = None, *, kind: str = "cohost_link") -> int:
    """Send one message to one address (one To per message: providers report per message).

    Returns 1 when the provider accepted it, 0 when it is queued for a retry. Raises
    CoHostMailError on a permanent failure; callers decide whether that is fatal.
    """
    sender = import_string(settings.PRODUCT_EMAIL_SENDER)
    log = sender(to, subject, text, html, kind=kind)
    status = getattr(log, "status", "sent")
    if status == "failed":
        raise CoHostMailError(getattr(log, "error", "") or "the email could not be sent")
    if kind == "cohost_link" and status == "sent":
        # The body holds a sign-in link: once delivered, don't keep it in the message log.
        type(log).objects.filter(pk=log.pk).update(body="[sign-in link removed after sending]", html="")
    return 1 if status == "sent" else 0
