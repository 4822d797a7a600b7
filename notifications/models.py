"""Reminders and the message log.

* ``Reminder`` is the claim: one row per (registration, reminder number), unique in the
  database, so two scans running at once (or a rerun) cannot both decide to send reminder #2.
  Its status records what became of the decision: sent, suppressed by the live check, skipped
  because it was no longer due, or deferred (quiet hours, provider down during the live check).
* ``NotificationLog`` is one row per message (email or SMS), whatever asked for it: reminders,
  the operator digest, co-host magic links (``notifications.email.send_email``). The row exists
  before the provider is called; its uuid is Resend's idempotency key, and a row that was
  attempted but never recorded a provider id is looked up at Twilio before any retry.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone


class Reminder(models.Model):
    class Missing(models.TextChoices):
        BOOKING = "booking", "Booking (paid, not booked)"
        PAYMENT = "payment", "Payment (booked, not paid)"

    class Status(models.TextChoices):
        PENDING = "pending", "Claimed, not yet processed"
        DEFERRED = "deferred", "Deferred (retry later)"
        SENT = "sent", "Sent"
        SUPPRESSED = "suppressed", "Suppressed (live check found the missing half)"
        SKIPPED = "skipped", "Skipped (no longer due)"

    OPEN = (Status.PENDING, Status.DEFERRED)
    DONE = (Status.SENT, Status.SUPPRESSED, Status.SKIPPED)

    registration = models.ForeignKey("registrations.Registration", on_delete=models.CASCADE, related_name="reminders")
    number = models.PositiveSmallIntegerField(help_text="1 for the first reminder, 2 for the second, …")
    missing = models.CharField(max_length=10, choices=Missing.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    # Which scan run claimed it (bulk insert with ON CONFLICT DO NOTHING, then read back ours).
    claim_token = models.CharField(max_length=36, db_index=True, editable=False)
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    retry_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Live-check attempts")
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["registration", "number"], name="uniq_reminder_registration_number"),
        ]
        indexes = [
            models.Index(
                fields=["status", "retry_at"],
                name="reminder_open_idx",
                condition=Q(status__in=["pending", "deferred"]),
            )
        ]

    def __str__(self):
        return f"Reminder #{self.number} ({self.missing}) for {self.registration_id}: {self.status}"


class NotificationLog(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Marked as spam"
        FAILED = "failed", "Failed"
        UNDELIVERED = "undelivered", "Undelivered"
        SUPPRESSED = "suppressed", "Suppressed (not sent)"

    # A status update never moves a message backwards: a late "sent" after "delivered" is
    # ignored, while a bounce or complaint after delivery still counts.
    RANK = {
        Status.QUEUED: 0,
        Status.SENT: 1,
        Status.DELIVERED: 2,
        Status.UNDELIVERED: 3,
        Status.BOUNCED: 3,
        Status.FAILED: 3,
        Status.SUPPRESSED: 3,
        Status.COMPLAINED: 4,
    }
    PROBLEMS = (Status.BOUNCED, Status.COMPLAINED, Status.FAILED, Status.UNDELIVERED)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    channel = models.CharField(max_length=5, choices=Channel.choices)
    kind = models.CharField(max_length=40, db_index=True, help_text="reminder_booking, cohost_link, digest, …")
    recipient = models.CharField(max_length=254)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True, help_text="Text body (email) or the SMS")
    html = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    provider = models.CharField(max_length=12, blank=True, help_text="resend, twilio, console, log, null")
    provider_id = models.CharField(max_length=100, blank=True, db_index=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    provider_status = models.CharField(max_length=40, blank=True, help_text="The provider's last word, verbatim")
    error = models.TextField(blank=True)
    # Unique when set: the same logical message (reminder #n by email, a day's digest for one
    # operator) can exist once, however many workers ask for it.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    registration = models.ForeignKey(
        "registrations.Registration",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
    )
    attendee = models.ForeignKey(
        "registrations.Attendee", null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    reminder = models.ForeignKey(Reminder, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    attempts = models.PositiveSmallIntegerField(default=0)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    status_at = models.DateTimeField(null=True, blank=True, help_text="When the status last changed")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "message"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="notification_retry_idx",
                condition=Q(status="queued"),
            ),
            models.Index(fields=["registration", "-created_at"], name="notification_reg_idx"),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} {self.kind} to {self.recipient}: {self.status}"

    @property
    def idempotency_key(self) -> str:
        return f"msg/{self.uuid}"

    @property
    def is_problem(self) -> bool:
        return self.status in self.PROBLEMS

    @property
    def reminder_number(self) -> int | None:
        """Read by the registration timeline (registrations.ops.timeline)."""
        return self.reminder.number if self.reminder_id else None
