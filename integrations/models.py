"""The webhook inbox and the reconciliation run log."""

from django.db import models
from django.utils import timezone


class WebhookEvent(models.Model):
    """Every accepted delivery, stored before any processing (verify → store → enqueue → 2xx).

    Deduplicated on (provider, event_id); "processed" (not "seen") decides whether a redelivery
    runs again, so a delivery whose processing failed is retried when it comes back.
    ``deliveries`` also tells a running attempt whether the row was delivered again since it
    claimed it (then an Acuity row runs again instead of being marked processed: integrations/tasks.py).
    """

    class Provider(models.TextChoices):
        STRIPE = "stripe", "Stripe"
        ACUITY = "acuity", "Acuity"
        TWILIO = "twilio", "Twilio"
        RESEND = "resend", "Resend"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    provider = models.CharField(max_length=10, choices=Provider.choices)
    event_id = models.CharField(
        max_length=255,
        help_text="Stripe evt_…; for Acuity (no id) a digest of the body, so a redelivery is a duplicate",
    )
    event_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=255, blank=True, db_index=True)
    body = models.TextField()
    headers = models.JSONField(default=dict, blank=True)
    livemode = models.BooleanField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    deliveries = models.PositiveIntegerField(default=1, help_text="How many times the provider sent it")
    last_error = models.TextField(blank=True)
    result = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_delivery_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Scheduling of the processing task (integrations/tasks.py). ``next_attempt_at``: when the
    # sweeper should (re-)enqueue a row that is still ``received`` (a lost task, or the next
    # attempt after a failure, with backoff). ``locked_until``: the lease of the attempt that is
    # running now (claimed by compare-and-set, so two workers never process one row at once).
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="uniq_webhook_provider_event")]
        indexes = [models.Index(fields=["provider", "-received_at"])]

    def __str__(self):
        return f"{self.provider} {self.event_type} {self.event_id}"


class ReconcileRun(models.Model):
    """One run of ``manage.py reconcile`` / ``backfill`` / the daily schedule."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        OK = "ok", "Completed"
        PARTIAL = "partial", "Completed with errors"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=20, default="reconcile")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    options = models.JSONField(default=dict, blank=True)
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    counts = models.JSONField(
        default=dict, blank=True, help_text="{event slug: {provider: {seen, known, new, changed, errors}}}"
    )
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self):
        return f"{self.kind} {self.started_at:%Y-%m-%d %H:%M %Z} ({self.status})"


class ProviderPace(models.Model):
    """The next free request slot per provider limit, shared by every process (integrations/clients.py).

    ``next_at`` is in seconds since the epoch as PostgreSQL's clock sees it, so hosts whose clocks
    disagree still agree on the pace. Only used on PostgreSQL; one row per key ("stripe:<endpoint>",
    "acuity"), written by one autocommit statement per API call.
    """

    key = models.CharField(max_length=100, primary_key=True)
    next_at = models.FloatField()

    def __str__(self):
        return f"{self.key} @ {self.next_at:.3f}"
