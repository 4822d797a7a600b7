"""The operators' daily digest: what needs a human since yesterday.

Sections: new open review items, webhook deliveries that failed, messages that failed (bounced,
complained, undelivered, failed) and reminders stuck on a provider that keeps failing the live
check. Nothing new in any section → no email at all. Sent to every active staff user with an
address, once per day each (``dedupe_key = digest/<date>/<user id>``), so two workers running the
schedule — or a rerun — still send one.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from registrations.models import ReviewItem

from .email import send_email
from .models import NotificationLog, Reminder
from .render import html_document

log = logging.getLogger(__name__)

# One day: from the same time on the day before, on the clock of TIME_ZONE (where the schedule's
# 07:00 is). Across a change of the clocks that is 23 or 25 hours, so each digest starts where
# the one before ended (a fixed 24 hours left an hour out on the morning the clocks go back).
WINDOW = timedelta(days=1)
LIST_LIMIT = 20
STUCK_AFTER_ATTEMPTS = 3


def _url(name: str) -> str:
    try:
        return f"{settings.PUBLIC_BASE_URL}{reverse(name)}"
    except NoReverseMatch:
        return ""


def _failed_webhooks(since):
    try:
        from integrations.models import WebhookEvent
    except ImportError:  # pragma: no cover
        return [], 0
    failed = WebhookEvent.objects.filter(status=WebhookEvent.Status.FAILED)
    recent = failed.filter(last_delivery_at__gte=since).order_by("-last_delivery_at")
    return list(recent[:LIST_LIMIT]), recent.count()


def digest_context(now=None) -> dict:
    now = now or timezone.now()
    since = timezone.localtime(now) - WINDOW  # wall-clock arithmetic in TIME_ZONE
    reviews = ReviewItem.objects.filter(state=ReviewItem.State.OPEN, created_at__gte=since).select_related(
        "event", "registration__attendee"
    )
    messages = NotificationLog.objects.filter(status__in=NotificationLog.PROBLEMS, status_at__gte=since).select_related(
        "registration__event"
    )
    webhooks, webhook_count = _failed_webhooks(since)
    stuck = Reminder.objects.filter(status=Reminder.Status.DEFERRED, attempts__gte=STUCK_AFTER_ATTEMPTS)
    return {
        "since": since,
        "now": now,
        "reviews": list(reviews.order_by("-created_at")[:LIST_LIMIT]),
        "review_count": reviews.count(),
        "open_review_total": ReviewItem.objects.filter(state=ReviewItem.State.OPEN).count(),
        "webhooks": webhooks,
        "webhook_count": webhook_count,
        "messages": list(messages.order_by("-status_at")[:LIST_LIMIT]),
        "message_count": messages.count(),
        "stuck_reminders": stuck.count(),
        "review_url": _url("admin:registrations_reviewitem_changelist"),
        "webhook_url": _url("admin:integrations_webhookevent_changelist"),
        "message_url": _url("admin:notifications_notificationlog_changelist"),
        "reminder_url": _url("admin:notifications_reminder_changelist"),
    }


def has_news(ctx: dict) -> bool:
    return bool(ctx["review_count"] or ctx["webhook_count"] or ctx["message_count"] or ctx["stuck_reminders"])


def recipients():
    return get_user_model().objects.filter(is_active=True, is_staff=True).exclude(email="").order_by("pk")


def send_digest(now=None) -> dict:
    now = now or timezone.now()
    ctx = digest_context(now)
    if not has_news(ctx):
        log.info("operator digest: nothing to report")
        return {"sent": 0, "reason": "nothing to report"}
    parts = []
    if ctx["review_count"]:
        parts.append(f"{ctx['review_count']} new review item{'s' if ctx['review_count'] != 1 else ''}")
    if ctx["webhook_count"]:
        parts.append(f"{ctx['webhook_count']} failed webhook{'s' if ctx['webhook_count'] != 1 else ''}")
    if ctx["message_count"]:
        parts.append(f"{ctx['message_count']} failed message{'s' if ctx['message_count'] != 1 else ''}")
    if ctx["stuck_reminders"]:
        parts.append(f"{ctx['stuck_reminders']} stuck reminder{'s' if ctx['stuck_reminders'] != 1 else ''}")
    subject = "JLF daily digest: " + ", ".join(parts)
    text = render_to_string("notifications/digest/digest.txt", ctx)
    html = html_document(render_to_string("notifications/digest/digest.html", ctx), subject)
    day = timezone.localdate(now).isoformat()
    sent = already = 0
    for user in recipients():
        key = f"digest/{day}/{user.pk}"
        # Today's digest to this operator already went (a rerun, a second worker): nothing is sent
        # again, and it is not counted as sent again.
        if NotificationLog.objects.filter(dedupe_key=key).exclude(status=NotificationLog.Status.QUEUED).exists():
            already += 1
            continue
        row = send_email(user.email, subject, text, html, kind="operator_digest", dedupe_key=key)
        sent += row.status in (NotificationLog.Status.SENT, NotificationLog.Status.QUEUED)
    return {"sent": sent, "subject": subject, **({"already_sent_today": already} if already else {})}
