"""Admin for the webhook inbox (read-only, with a retry action) and the reconciliation run log.

Inbox rows are evidence of what the providers told us: nobody edits or deletes them here. What an
operator can do is put failed (or stuck) deliveries back in the queue; the worker then runs them
through the normal processing path (``integrations.tasks.process_webhook``).
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.text import Truncator

from .inbox import requeue
from .models import ProviderPace, ReconcileRun, WebhookEvent

RETRYABLE = (WebhookEvent.Status.FAILED, WebhookEvent.Status.RECEIVED)


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = (
        "received_at",
        "provider",
        "event_type",
        "event_id",
        "object_id",
        "status_badge",
        "attempts",
        "deliveries",
        "outcome",
    )
    list_filter = ("status", "provider", "event_type", "livemode")
    search_fields = ("=event_id", "=object_id")  # exact ids, as pasted from Stripe or Acuity
    date_hierarchy = "received_at"
    list_per_page = 50
    show_full_result_count = False  # a large inbox: no second COUNT(*) per page
    actions = ["retry_processing"]
    fieldsets = (
        (None, {"fields": ("provider", "event_type", "event_id", "object_id", "livemode", "status")}),
        (
            "Processing",
            {
                "fields": (
                    "result",
                    "last_error",
                    "attempts",
                    "deliveries",
                    "received_at",
                    "last_delivery_at",
                    "processed_at",
                    "next_attempt_at",
                    "locked_until",
                )
            },
        ),
        ("What the provider sent", {"fields": ("headers_pretty", "body_pretty")}),
    )
    readonly_fields = (
        "provider",
        "event_type",
        "event_id",
        "object_id",
        "livemode",
        "status",
        "result",
        "last_error",
        "attempts",
        "deliveries",
        "received_at",
        "last_delivery_at",
        "processed_at",
        "next_attempt_at",
        "locked_until",
        "headers_pretty",
        "body_pretty",
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # evidence: viewed, never edited

    def has_delete_permission(self, request, obj=None):
        return False

    def has_retry_permission(self, request):
        return request.user.has_perm("integrations.change_webhookevent")

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        colours = {"processed": "#2e7d32", "ignored": "#757575", "received": "#1565c0", "failed": "#c62828"}
        return format_html(
            '<strong style="color:{}">{}</strong>', colours.get(obj.status, "inherit"), obj.get_status_display()
        )

    @admin.display(description="result / last error")
    def outcome(self, obj):
        text = obj.last_error if obj.status in RETRYABLE and obj.last_error else obj.result
        return Truncator(text or "").chars(90)

    @admin.display(description="headers")
    def headers_pretty(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.headers or {}, indent=2, sort_keys=True))

    @admin.display(description="raw body")
    def body_pretty(self, obj):
        """JSON bodies indented; form bodies (Acuity) as one field per line. The stored body
        itself is never changed."""
        body = obj.body or ""
        try:
            shown = json.dumps(json.loads(body), indent=2)
        except ValueError:
            pairs = parse_qsl(body, keep_blank_values=True)
            shown = "\n".join(f"{k} = {v}" for k, v in pairs) if pairs else body
        return format_html('<pre style="max-height:40em;overflow:auto">{}</pre>', shown)

    @admin.action(description="Retry processing of the selected failed / received deliveries", permissions=["retry"])
    def retry_processing(self, request, queryset):
        selected = queryset.count()
        queued = requeue(queryset.filter(status__in=RETRYABLE))
        skipped = selected - queued
        if queued:
            self.message_user(
                request,
                f"Queued {queued} deliver{'y' if queued == 1 else 'ies'} for processing with a fresh set of "
                "attempts; refresh in a moment to see the outcome.",
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                f"Skipped {skipped}: already processed or ignored, or being processed right now.",
                messages.WARNING,
            )


@admin.register(ReconcileRun)
class ReconcileRunAdmin(admin.ModelAdmin):
    list_display = ("started_at", "kind", "status", "dry_run", "finished_at", "duration", "error_count")
    list_filter = ("kind", "status", "dry_run")
    date_hierarchy = "started_at"
    readonly_fields = (
        "kind",
        "started_at",
        "finished_at",
        "status",
        "dry_run",
        "report",
        "options",
        "counts",
        "errors",
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="duration")
    def duration(self, obj):
        if not obj.finished_at:
            return "running" if obj.status == ReconcileRun.Status.RUNNING else "—"
        return str(obj.finished_at - obj.started_at).split(".")[0]

    @admin.display(description="report")
    def report(self, obj):
        """The same table ``manage.py reconcile`` prints (docs/reconciliation.md explains it)."""
        from .reconcile_report import format_report

        return format_html("<pre>{}</pre>", format_report(obj))

    @admin.display(description="errors")
    def error_count(self, obj):
        return len(obj.errors or [])


@admin.register(ProviderPace)
class ProviderPaceAdmin(admin.ModelAdmin):
    """The next free request slot per provider endpoint, shared by every process (see
    ``integrations.clients.RateLimiter``). Shown for diagnosis only: the rows are the pacing's own."""

    list_display = ("key", "next_at")
    search_fields = ("key",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
