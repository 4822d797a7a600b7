"""The one place co-host email leaves the system.

Today this is Django's ``send_mail`` (whatever ``EMAIL_BACKEND`` says). When the notifications
transport (Resend with idempotency keys) lands, only this function changes.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail


def send_cohost_email(to: str, subject: str, text: str, html: str | None = None) -> int:
    """Send one message to one address (one To per message: providers report per message).

    Raises whatever the backend raises; callers decide whether a failure is fatal.
    """
    return send_mail(
        subject=subject,
        message=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[to],
        html_message=html,
        fail_silently=False,
    )
