"""The one way product email leaves the system: ``send_email(...)``.

Co-host sign-in links, digests and reminders all go through it, so every message is a
``NotificationLog`` row (shown in the admin and on the registration timeline), gets Resend's
idempotency key, delivery-status updates from Resend's webhook, and the retry policy of
``notifications.delivery``.

    from notifications.email import send_email

    log = send_email("ana@example.org", "Your sign-in link", text, html, kind="cohost_link")
    if log.status == log.Status.FAILED: ...   # permanent failure (bad address, …)
    # queued = a transient failure; it is retried by the reminder scan's sweep (every 5 min)

``dedupe_key`` makes a logical message unique: a second call with the same key returns the
first call's row and sends nothing (e.g. ``f"digest/{date}/{user.pk}"``).
"""

from __future__ import annotations

from .delivery import create_message, deliver
from .models import NotificationLog


def send_email(
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    *,
    kind: str,
    registration=None,
    attendee=None,
    headers: dict | None = None,
    dedupe_key: str | None = None,
) -> NotificationLog:
    """Record and send one email to one address, now. Returns the NotificationLog row; its
    ``status`` says what happened (sent / queued for retry / failed). Never raises for a
    provider problem; raises ValueError for an empty address or kind."""
    to = (to or "").strip()
    if not to or "@" not in to:
        raise ValueError("send_email needs one email address")
    if not kind:
        raise ValueError("send_email needs a kind (e.g. 'cohost_link') for the message log")
    message, created = create_message(
        channel=NotificationLog.Channel.EMAIL,
        kind=kind,
        recipient=to,
        subject=subject,
        body=text,
        html=html or "",
        headers=headers,
        registration=registration,
        attendee=attendee,
        dedupe_key=dedupe_key,
    )
    if not created and message.status != NotificationLog.Status.QUEUED:
        return message
    return deliver(message.pk) or message
